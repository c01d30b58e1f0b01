// The reading API as the reading view uses it (backend/reading/apis.py).
import { api } from "../api";

export type Box = [number, number, number, number];

/** The level's suggestion as the view shows it when the grade is set; the server records "blinded"
 * for a blinded case and "no_model" where it has no suggestion, whatever is sent. */
export type Display = "shown" | "hidden" | "no_model";

export interface Annotation {
  level: string;
  grade: number | null;
  box: Box | null;
  note: string;
  version: number;
  display?: Display | "blinded";
  updated_at?: string;
}

export interface LevelSuggestion {
  level: string;
  grade: number;
  confidence: number;
  box: Box | null;
  probabilities: number[];
  binary_probability: number;
}

export interface Suggestions {
  blinded: boolean;
  model_version?: string | null;
  levels: LevelSuggestion[];
  message?: string;
}

export interface LevelPosition {
  level: string;
  ct_index: number | null;
  ct_source: "model" | "even";
  mr_index: number | null;
  mr_source: "disc_aligned" | "even";
}

export interface CaseDetail {
  id: number;
  status: "new" | "draft" | "submitted";
  ct_study_uid: string;
  mr_study_uid: string;
  levels: string[];
  annotations: Annotation[];
  suggestions: Suggestions;
  time_spent_s: number;
  level_positions: {
    ct_series_uid: string | null;
    mr_axial_series_uid: string | null;
    mr_sagittal_series_uid: string | null;
    levels: LevelPosition[];
  };
}

/** Level names travel with "-" in URLs: C5/6 -> C5-6. */
export const levelSlug = (level: string) => level.replace("/", "-");

export const fetchCase = (id: number) => api<CaseDetail>(`/api/reading/cases/${id}/`);

export const saveLevel = (
  id: number,
  level: string,
  body: { grade?: number | null; box?: Box | null; note?: string; version: number | null; display?: Display },
) =>
  api<Annotation>(`/api/reading/cases/${id}/levels/${levelSlug(level)}/`, { method: "PUT", body: JSON.stringify(body) });

export const submitCase = (id: number, timeSpentS: number) =>
  api<{ status: string; next_case: number | null }>(`/api/reading/cases/${id}/submit/`, {
    method: "POST",
    body: JSON.stringify({ time_spent_s: timeSpentS }),
  });
