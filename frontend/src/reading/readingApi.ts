// The reading API as the reading view uses it (backend/reading/apis.py).
import { api } from "../api";
import type { components } from "../generated/openapi";
import type { LevelPositionsPayload } from "./levelPositions";

// Types: the OpenAPI schema's (src/generated/openapi.d.ts), narrowed where the schema is looser than the JSON:
// a box is four numbers, a point three, the suggestions are a free-form object the learning app builds.
type Schemas = components["schemas"];

export type Box = [number, number, number, number];

/** The level's suggestion as the view shows it when the grade is set; the server records "blinded"
 * for a blinded case and "no_model" where it has no suggestion, whatever is sent. */
export type Display = "shown" | "hidden" | "no_model";

export type Point3 = [number, number, number];
export type MeasureName = "canal_ap" | "body_ap";
export interface Measure {
  points: [Point3, Point3];
  mm: number;
}
export type Measurements = Partial<Record<MeasureName, Measure>>;

export type Annotation = Omit<Schemas["AnnotationOutput"], "box" | "display" | "updated_at" | "measurements"> & {
  box: Box | null;
  measurements: Measurements;
  display?: Display | "blinded";
  updated_at?: string;
};

export interface LevelSuggestion {
  level: string;
  grade: number;
  confidence: number;
  box: Box | null;
  probabilities: number[];
  binary_probability: number;
  canal_ap_mm?: number | null; // the model's reading of the canal's AP diameter
}

export interface Suggestions {
  blinded: boolean;
  model_version?: string | null;
  levels: LevelSuggestion[];
  message?: string;
}

export type CaseDetail = Omit<Schemas["CaseDetail"], "status" | "annotations" | "suggestions" | "level_positions"> & {
  status: "new" | "draft" | "submitted";
  annotations: Annotation[];
  suggestions: Suggestions;
  /** Points in patient mm are triples (./levelPositions). */
  level_positions: LevelPositionsPayload;
};

/** Level names travel with "-" in URLs: C5/6 -> C5-6. */
export const levelSlug = (level: string) => level.replace("/", "-");

export const fetchCase = (id: number) => api<CaseDetail>(`/api/reading/cases/${id}/`);

export const saveLevel = (
  id: number,
  level: string,
  body: {
    grade?: number | null;
    box?: Box | null;
    note?: string;
    measurements?: Partial<Record<MeasureName, { points: [Point3, Point3] } | null>>;
    version: number | null;
    display?: Display;
  },
) =>
  api<Annotation>(`/api/reading/cases/${id}/levels/${levelSlug(level)}/`, { method: "PUT", body: JSON.stringify(body) });

export const submitCase = (id: number, timeSpentS: number) =>
  api<Schemas["SubmitOutput"]>(`/api/reading/cases/${id}/submit/`, {
    method: "POST",
    body: JSON.stringify({ time_spent_s: timeSpentS }),
  });
