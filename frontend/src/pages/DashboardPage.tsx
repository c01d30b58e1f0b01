import { useCallback, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { AdjudicationPanel } from "../dashboard/AdjudicationPanel";
import {
  fetchConfusion, fetchEfficiency, fetchGrades, fetchProgress, fetchProjects, fetchReaderPerformance, fetchRegistry,
  fetchSummary,
} from "../dashboard/api";
import { ConfusionMatrixPanel } from "../dashboard/ConfusionMatrixPanel";
import { GradeDistributionPanel } from "../dashboard/GradeDistributionPanel";
import { KappaSubsetPanel } from "../dashboard/KappaSubsetPanel";
import { KappaTimelinePanel } from "../dashboard/KappaTimelinePanel";
import { LabelEfficiencyPanel } from "../dashboard/LabelEfficiencyPanel";
import { ModelRegistryPanel } from "../dashboard/ModelRegistryPanel";
import { ProgressOverTime, ReaderProgressPanel } from "../dashboard/ProgressPanels";
import { ReaderPerformancePanel } from "../dashboard/ReaderPerformancePanel";
import { ReferenceSetPanel } from "../dashboard/ReferenceSetPanel";
import { SummaryCards } from "../dashboard/SummaryCards";
import { TrainingRunsPanel } from "../dashboard/TrainingRunsPanel";
import { useLoad } from "../dashboard/useLoad";
import { WorkersPanel } from "../dashboard/WorkersPanel";

function ProjectDashboard({ slug }: { slug: string }) {
  // Promote, rollback or a finished training bump `refresh`: every panel that depends on the model reloads.
  const [refresh, setRefresh] = useState(0);
  const changed = useCallback(() => setRefresh((r) => r + 1), []);
  const summary = useLoad(() => fetchSummary(slug), [slug, refresh]);
  const progress = useLoad(() => fetchProgress(slug), [slug, refresh]);
  const grades = useLoad(() => fetchGrades(slug), [slug, refresh]);
  const confusion = useLoad(() => fetchConfusion(slug), [slug, refresh]);
  const registry = useLoad(() => fetchRegistry(slug), [slug, refresh]);
  const efficiency = useLoad(() => fetchEfficiency(slug), [slug, refresh]);
  const performance = useLoad(() => fetchReaderPerformance(slug), [slug, refresh]);
  return (
    <>
      <SummaryCards summary={summary} />
      <div className="panels">
        <ProgressOverTime progress={progress} />
        <ReaderProgressPanel progress={progress} />
        <KappaTimelinePanel slug={slug} refresh={refresh} />
        <KappaSubsetPanel slug={slug} refresh={refresh} />
        <ReaderPerformancePanel slug={slug} performance={performance} />
        <GradeDistributionPanel grades={grades} />
        <ConfusionMatrixPanel confusion={confusion} />
        <LabelEfficiencyPanel efficiency={efficiency} />
        <ModelRegistryPanel slug={slug} registry={registry} onChange={changed} />
        <TrainingRunsPanel slug={slug} onFinished={changed} />
        <AdjudicationPanel slug={slug} refresh={refresh} />
        <ReferenceSetPanel slug={slug} refresh={refresh} />
        <WorkersPanel />
      </div>
    </>
  );
}

export function DashboardPage() {
  const [params, setParams] = useSearchParams();
  const projects = useLoad(fetchProjects, []);
  if (projects.errorStatus === 403) {
    return (
      <main className="dashboard">
        <h1>Dashboard</h1>
        <p className="forbidden" role="alert" data-testid="dashboard-forbidden">
          403 — the dashboard is for project admins only. Ask an admin if you need these figures.
        </p>
      </main>
    );
  }
  const list = projects.data ?? [];
  const slug = params.get("project") ?? list[0]?.slug ?? null;
  return (
    <main className="dashboard" data-testid="dashboard">
      <header className="dashboard-head">
        <h1>Dashboard</h1>
        {list.length > 0 && (
          <select aria-label="project" data-testid="project-select" value={slug ?? ""} onChange={(e) => setParams({ project: e.target.value })}>
            {list.map((p) => <option key={p.slug} value={p.slug}>{p.name}</option>)}
          </select>
        )}
      </header>
      {projects.error && <p className="error" role="alert">{projects.error}</p>}
      {projects.data && list.length === 0 && <p className="muted">No project yet.</p>}
      {slug && <ProjectDashboard key={slug} slug={slug} />}
    </main>
  );
}
