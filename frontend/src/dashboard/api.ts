// The dashboard's data: /api/dashboard/... for aggregates, /api/learning/... for versions, runs and adjudications.

import { api } from "../api";

export type Ci95 = [number | null, number | null];

export interface DashboardProject {
  slug: string;
  name: string;
}

export interface Summary {
  project: DashboardProject;
  cases: number;
  reference_cases: number;
  cases_read: number;
  readings: number;
  levels_submitted: number;
  readers: number;
  champion: { model_version: string; promoted_at: string | null; reference_kappa: number | null } | null;
  active_training: { id: number; status: string; progress: TrainingProgress; labels_used: number } | null;
  open_adjudications: number;
  model_vs_groups: { group: string; kappa: number | null; ci95: Ci95; n: number; taken_at: string }[];
}

export interface ProgressDay {
  day: string;
  levels: number;
  readings: number;
  cases: number;
  cumulative_levels: number;
  cumulative_readings: number;
  cumulative_cases: number;
}

export interface ReaderProgress {
  reader: string;
  experience: string;
  done: number;
  drafts: number;
  remaining: number;
  levels: number;
  median_seconds: number | null;
  mean_seconds: number | null;
}

export interface LabelingProgress {
  total_cases: number;
  by_day: ProgressDay[];
  by_reader: ReaderProgress[];
}

export interface GradeDistribution {
  grades: number[];
  reference: { frozen: number[]; training: number[] };
  reader_groups: { experience: string; counts: number[]; total: number }[];
}

export interface KappaPoint {
  taken_at: string;
  trigger: string;
  kappa: number | null;
  ci95: Ci95;
  n: number;
  model_version: string | null;
}

export interface KappaSeries {
  kind: string;
  rater_a: string;
  rater_b: string;
  points: KappaPoint[];
}

export interface Promotion {
  model_version: string;
  number: number;
  status: string;
  promoted_at: string;
}

export interface KappaTimeline {
  task: string;
  weighting: string;
  subset: string;
  series: KappaSeries[];
  promotions: Promotion[];
}

export interface KappaSubsetRow {
  kind: string;
  rater_a: string;
  rater_b: string;
  subset: "all" | "shown" | "hidden" | "blinded";
  kappa: number | null;
  ci95: Ci95;
  n: number;
  taken_at: string;
  model_version: string | null;
}

export interface ReferenceMetrics {
  n: number | null;
  kappa_quadratic: number | null;
  kappa_quadratic_ci95: Ci95 | null;
  accuracy: number | null;
  binary_kappa: number | null;
}

export interface ConfusionMatrix extends ReferenceMetrics {
  model_version: string | null;
  grades: number[];
  matrix: number[][] | null;
}

export interface RegistryRow {
  number: number;
  model_version: string;
  status: string;
  created_at: string;
  promoted_at: string | null;
  error: string;
  training_labels: number | null;
  training_run: { id: number; status: string; trigger: string } | null;
  reference: ReferenceMetrics;
  gate: { promoted: boolean | null; reason: string | null };
  promotions: { kind: "promote" | "rollback"; by: string | null; at: string }[];
}

export interface EfficiencyPoint {
  labels: number;
  kappa_quadratic: number | null;
  ci95: Ci95;
  model_version?: string;
}

export interface LabelEfficiency {
  project_points: EfficiencyPoint[];
  benchmark: { strategy: string; mean_labels_to_target: number | null; curves: { seed: string; points: EfficiencyPoint[] }[] }[];
  benchmark_note: string;
}

export type Metric = "accuracy" | "macro_f1" | "kappa" | "kappa_quadratic";
export type Score = { value: number | null; ci95: Ci95 };
export type TaskScores = { task: "4grade" | "binary" } & Record<Metric, Score>;

interface RaterScores {
  levels: number;
  cases: number;
  /** Levels left out: their reference would rest on this rater's own grade alone. */
  own_reference_levels: number;
  tasks: TaskScores[];
}

export interface PerformanceScope {
  scope: "all" | "reference_set";
  reference_levels: number;
  readers: (RaterScores & { reader: string; experience: string })[];
  groups: (RaterScores & { group: string; readers: number })[];
  /** a's score minus b's (senior minus junior), with the paired bootstrap's interval. */
  contrasts: { a: string; b: string; tasks: TaskScores[] }[];
}

export interface ReaderPerformance {
  n_boot: number;
  metrics: Metric[];
  tasks: string[];
  scopes: PerformanceScope[];
}

export interface AdjudicationSummary {
  open: number;
  resolved: number;
  open_by_reason: Record<string, number>;
  open_by_level: Record<string, number>;
  oldest_open_at: string | null;
}

export interface AdjudicationItem {
  id: number;
  case: number;
  level: string;
  reason: string;
  grades: Record<string, number>;
  status: string;
  created_at: string;
}

export interface TrainingProgress {
  stage?: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  done?: number;
  total?: number;
  history?: { loss?: number }[];
}

export interface TrainingRun {
  id: number;
  status: "queued" | "running" | "succeeded" | "failed";
  trigger: string;
  labels_used: number;
  progress: TrainingProgress;
  model_version: string | null;
  worker: string;
  error: string;
  created_at: string;
  started_at: string | null;
  heartbeat_at: string | null;
  finished_at: string | null;
}

export interface Check {
  ok: boolean;
  latency_ms: number;
  detail: string;
}

export interface WorkersHealth {
  status: string;
  checks: { database: Check; broker: Check; worker: Check };
  transport: string;
  workers: string[];
  queues: { name: string; waiting: number }[];
  queue_error: string;
}

const dash = (slug: string, what: string) => `/api/dashboard/projects/${encodeURIComponent(slug)}/${what}/`;
const learning = (slug: string, what: string) => `/api/learning/projects/${encodeURIComponent(slug)}/${what}`;

export const fetchProjects = () => api<DashboardProject[]>("/api/dashboard/projects/");
export const fetchSummary = (slug: string) => api<Summary>(dash(slug, "summary"));
export const fetchProgress = (slug: string) => api<LabelingProgress>(dash(slug, "labeling-progress"));
export const fetchGrades = (slug: string) => api<GradeDistribution>(dash(slug, "grade-distribution"));
export const fetchKappaTimeline = (slug: string, query: string) =>
  api<KappaTimeline>(`${dash(slug, "kappa-timeline")}?${query}`);
export const fetchKappaBySubset = (slug: string, query: string) =>
  api<{ rows: KappaSubsetRow[] }>(`${dash(slug, "kappa-by-subset")}?${query}`);
export const fetchConfusion = (slug: string) => api<ConfusionMatrix>(dash(slug, "confusion-matrix"));
export const fetchRegistry = (slug: string) => api<RegistryRow[]>(dash(slug, "model-registry"));
export const fetchEfficiency = (slug: string) => api<LabelEfficiency>(dash(slug, "label-efficiency"));
export const fetchReaderPerformance = (slug: string) => api<ReaderPerformance>(dash(slug, "reader-performance"));
export const readerPerformanceCsv = (slug: string) => `/api/exports/projects/${encodeURIComponent(slug)}/reader-performance.csv`;
export const fetchAdjudicationSummary = (slug: string) => api<AdjudicationSummary>(dash(slug, "adjudication-summary"));
export const fetchWorkers = () => api<WorkersHealth>("/api/dashboard/workers/");

export const fetchOpenAdjudications = (slug: string) => api<AdjudicationItem[]>(learning(slug, "adjudications/?status=open"));
export const fetchTrainingRuns = (slug: string) => api<TrainingRun[]>(learning(slug, "training-runs/"));
export const startTraining = (slug: string) => api<TrainingRun>(learning(slug, "training-runs/"), { method: "POST" });
export const retryTraining = (slug: string, id: number) =>
  api<TrainingRun>(learning(slug, `training-runs/${id}/retry/`), { method: "POST" });
export const promoteVersion = (slug: string, number: number) =>
  api<unknown>(learning(slug, `model-versions/${number}/promote/`), { method: "POST" });
// Without a number: the champion before the current one in the promotion history.
export const rollbackChampion = (slug: string, number?: number) =>
  api<unknown>(learning(slug, "rollback/"), { method: "POST", body: JSON.stringify(number ? { number } : {}) });

export interface ReferenceCase {
  id: number;
  patient_id: string;
  ct_study_uid: string;
  in_reference_set: boolean;
  /** Submitted readings: a case can join or leave the reference set only while it has none. */
  readings: number;
}

export const fetchReferenceSet = (slug: string) => api<ReferenceCase[]>(learning(slug, "reference-set/"));
export const setReferenceMembership = (slug: string, caseId: number, inReferenceSet: boolean) =>
  api<ReferenceCase>(learning(slug, `reference-set/${caseId}/`), {
    method: "PUT",
    body: JSON.stringify({ in_reference_set: inReferenceSet }),
  });
/** Many cases at once, all or none: one read case (409) or unknown case (404) moves nothing. */
export const moveReferenceCases = (slug: string, caseIds: number[], inReferenceSet: boolean) =>
  api<ReferenceCase[]>(learning(slug, "reference-set/"), {
    method: "POST",
    body: JSON.stringify({ case_ids: caseIds, in_reference_set: inReferenceSet }),
  });
