// Level positions (backend/reading/level_positions.py): where a disc level lies in one study, in that
// study's patient millimetres, and the reader's corrections of it. The viewer only draws what this
// module computes from them.
import { api } from "../api";
import type { LevelLines } from "../cornerstone/overlay";
import type { Types } from "@cornerstonejs/core";

type Point3 = Types.Point3;

export type PositionSource = "finder" | "model" | "reader";

export interface PlacedLevel {
  level: string;
  source: PositionSource;
  centre: Point3;
  normal: Point3;
  canal: Point3 | null;
  confidence: number | null;
  at: string;
}

export interface PlacedLevels {
  level: string;
  ct_index: number | null;
  ct_source: PositionSource | "even";
  mr_index: number | null;
  mr_source: PositionSource | "disc_aligned" | "even";
  ct_position?: PlacedLevel | null;
  mr_position?: PlacedLevel | null;
}

export interface LevelPositionsPayload {
  ct_series_uid: string | null;
  mr_axial_series_uid: string | null;
  mr_sagittal_series_uid: string | null;
  levels: PlacedLevels[];
}

/** Half the length of a drawn disc line: across the body and the canal behind it. */
export const LINE_HALF_MM = 22;
/** How far one key press moves a level along its disc's normal. */
export const STEP_MM = 1;

/** The disc plane where it cuts the sagittal plane: a line through the disc centre, perpendicular to
 * the normal, reaching back past the canal. */
export function discLine(position: PlacedLevel, halfLength = LINE_HALF_MM): LevelLines {
  const [, ny, nz] = position.normal;
  const length = Math.hypot(ny, nz) || 1;
  // In the sagittal (y-z) plane, perpendicular to the normal, pointing posteriorly (+y).
  let dir: Point3 = [0, nz / length, -ny / length];
  if (dir[1] < 0) dir = [0, -dir[1], -dir[2]];
  const centre = position.centre;
  const shift = halfLength / 3; // the canal lies behind the disc centre: draw more of the line there
  const at = (s: number): Point3 => [centre[0], centre[1] + dir[1] * s, centre[2] + dir[2] * s];
  return { centre, from: at(-halfLength + shift), to: at(halfLength + shift) };
}

/** The position moved `mm` along its normal (positive: up the spine). */
export function movedAlongNormal(position: PlacedLevel, mm: number): Point3 {
  const [nx, ny, nz] = position.normal;
  const length = Math.hypot(nx, ny, nz) || 1;
  const [x, y, z] = position.centre;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return [round(x + (nx / length) * mm), round(y + (ny / length) * mm), round(z + (nz / length) * mm)];
}

export const saveLevelPosition = (
  caseId: number,
  level: string,
  body: { modality: "CT" | "MR"; centre: Point3; normal?: Point3 },
) =>
  api<LevelPositionsPayload>(`/api/reading/cases/${caseId}/levels/${level.replace("/", "-")}/position/`, {
    method: "PUT",
    body: JSON.stringify(body),
  });
