// The dashboard's data: /api/dashboard/... for aggregates, /api/learning/... for versions, runs and adjudications.

import { api } from "../api";
import type { components } from "../generated/openapi";

// Types: the OpenAPI schema's (src/generated/openapi.d.ts, `make api-types`), narrowed only where the schema is
// looser than the JSON the views send: the 95% interval is a pair, training progress is a free-form JSON object.
type Schemas = components["schemas"];
/** T with the fields of N replaced by N's; every field of N must be one of T's. */
type Narrow<T, N extends { [K in keyof N]: K extends keyof T ? unknown : never }> = Omit<T, keyof N> & N;

export type Ci95 = [number | null, number | null];
type WithCi95<T extends { ci95: unknown }> = Omit<T, "ci95"> & { ci95: Ci95 };

/** The training's progress row (a JSON field): what the worker has reported so far. */
export interface TrainingProgress {
  stage?: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  done?: number;
  total?: number;
  history?: { loss?: number }[];
}

export type DashboardProject = Schemas["DashboardProjectOutput"];

export type Summary = Narrow<
  Schemas["SummaryOutput"],
  {
    active_training: Narrow<Schemas["ActiveTrainingOutput"], { progress: TrainingProgress }> | null;
    model_vs_groups: WithCi95<Schemas["GroupKappaOutput"]>[];
  }
>;

export type ProgressDay = Schemas["ProgressDayOutput"];
export type ReaderProgress = Schemas["ReaderProgressOutput"];
export type LabelingProgress = Schemas["LabelingProgressOutput"];
export type GradeDistribution = Schemas["GradeDistributionOutput"];

export type KappaPoint = WithCi95<Schemas["KappaPointOutput"]>;
export type KappaSeries = Narrow<Schemas["KappaSeriesOutput"], { points: KappaPoint[] }>;
export type Promotion = Schemas["PromotionOutput"];
export type KappaTimeline = Narrow<Schemas["KappaTimelineOutput"], { series: KappaSeries[] }>;
export type KappaSubsetRow = WithCi95<Schemas["KappaSubsetRowOutput"]>;
export type KappaBySubset = Narrow<Schemas["KappaBySubsetOutput"], { rows: KappaSubsetRow[] }>;

export type ReferenceMetrics = Narrow<Schemas["ReferenceMetricsOutput"], { kappa_quadratic_ci95: Ci95 | null }>;
export type ConfusionMatrix = Narrow<Schemas["ConfusionMatrixOutput"], { kappa_quadratic_ci95: Ci95 | null }>;
export type RegistryRow = Narrow<Schemas["RegistryRowOutput"], { reference: ReferenceMetrics }>;

export type EfficiencyPoint = WithCi95<Schemas["EfficiencyPointOutput"]>;
export type LabelEfficiency = Narrow<
  Schemas["LabelEfficiencyOutput"],
  {
    project_points: WithCi95<Schemas["ProjectEfficiencyPointOutput"]>[];
    benchmark: Narrow<
      Schemas["BenchmarkStrategyOutput"],
      { curves: Narrow<Schemas["BenchmarkCurveOutput"], { points: EfficiencyPoint[] }>[] }
    >[];
  }
>;

export type Metric = keyof Omit<Schemas["TaskScoresOutput"], "task">;
export type Score = WithCi95<Schemas["ScoreOutput"]>;
export type TaskScores = Pick<Schemas["TaskScoresOutput"], "task"> & Record<Metric, Score>;
type WithTasks<T extends { tasks: unknown }> = Omit<T, "tasks"> & { tasks: TaskScores[] };

export type PerformanceScope = Narrow<
  Schemas["PerformanceScopeOutput"],
  {
    readers: WithTasks<Schemas["ReaderScoresOutput"]>[];
    groups: WithTasks<Schemas["GroupScoresOutput"]>[];
    /** a's score minus b's (senior minus junior), with the paired bootstrap's interval. */
    contrasts: WithTasks<Schemas["ContrastOutput"]>[];
  }
>;

export type ReaderPerformance = Narrow<
  Schemas["ReaderPerformanceOutput"],
  { metrics: Metric[]; scopes: PerformanceScope[] }
>;

export type AdjudicationSummary = Schemas["AdjudicationSummaryOutput"];
export type AdjudicationItem = Narrow<
  Required<Schemas["AdjudicationOutput"]>,
  { grades: Record<string, number> }
>;

export type TrainingRun = Narrow<Required<Schemas["TrainingRunOutput"]>, { progress: TrainingProgress }>;
export type Check = Schemas["CheckOutput"];
export type WorkersHealth = Schemas["WorkersHealthOutput"];

const dash = (slug: string, what: string) => `/api/dashboard/projects/${encodeURIComponent(slug)}/${what}/`;
const learning = (slug: string, what: string) => `/api/learning/projects/${encodeURIComponent(slug)}/${what}`;

export const fetchProjects = () => api<DashboardProject[]>("/api/dashboard/projects/");
export const fetchSummary = (slug: string) => api<Summary>(dash(slug, "summary"));
export const fetchProgress = (slug: string) => api<LabelingProgress>(dash(slug, "labeling-progress"));
export const fetchGrades = (slug: string) => api<GradeDistribution>(dash(slug, "grade-distribution"));
export const fetchKappaTimeline = (slug: string, query: string) =>
  api<KappaTimeline>(`${dash(slug, "kappa-timeline")}?${query}`);
export const fetchKappaBySubset = (slug: string, query: string) =>
  api<KappaBySubset>(`${dash(slug, "kappa-by-subset")}?${query}`);
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

/** `readings`: submitted readings; a case can join or leave the reference set only while it has none. */
export type ReferenceCase = Schemas["ReferenceCaseOutput"];

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
export const resolveAdjudication = (slug: string, id: number, grade: number, note: string) =>
  api<AdjudicationItem>(learning(slug, `adjudications/${id}/resolve/`), {
    method: "POST",
    body: JSON.stringify({ grade, note }),
  });
