import type { ChartConfiguration } from "chart.js";
import { useMemo, useState } from "react";

import { type Metric, type PerformanceScope, type ReaderPerformance, type Score, readerPerformanceCsv } from "./api";
import { PALETTE, useChart } from "./charts";
import { ChartBox, Panel } from "./Panel";
import type { Loaded } from "./useLoad";

const METRICS: { key: Metric; label: string }[] = [
  { key: "accuracy", label: "accuracy" },
  { key: "macro_f1", label: "macro F1" },
  { key: "kappa", label: "κ" },
  { key: "kappa_quadratic", label: "κ quadratic" },
];
const GROUP_COLOR: Record<string, string> = { senior: PALETTE[1], junior: PALETTE[0] };

const fixed = (v: number | null) => (v == null ? "—" : v.toFixed(2));
const cell = (s: Score | undefined) => (s ? `${fixed(s.value)} (${fixed(s.ci95[0])} to ${fixed(s.ci95[1])})` : "—");

interface Row {
  key: string;
  name: string;
  experience: string;
  levels: number | null;
  own: number | null;
  scores: Record<Metric, Score> | undefined;
}

function rows(scope: PerformanceScope, task: string): Row[] {
  const pick = (tasks: { task: string }[]) => tasks.find((t) => t.task === task) as Record<Metric, Score> | undefined;
  return [
    ...scope.groups.map((g) => ({ key: `group-${g.group}`, name: `${g.group}s (${g.readers})`, experience: g.group, levels: g.levels, own: g.own_reference_levels, scores: pick(g.tasks) })),
    ...scope.contrasts.map((c) => ({ key: `contrast-${c.a}-${c.b}`, name: `${c.a} − ${c.b}`, experience: "", levels: null, own: null, scores: pick(c.tasks) })),
    ...scope.readers.map((r) => ({ key: `reader-${r.reader}`, name: r.reader, experience: r.experience, levels: r.levels, own: r.own_reference_levels, scores: pick(r.tasks) })),
  ];
}

function chartConfig(shown: Row[], metric: Metric): ChartConfiguration {
  const bars = shown.filter((r) => r.levels !== null);
  const dataset = {
    label: METRICS.find((m) => m.key === metric)?.label ?? metric,
    data: bars.map((r) => r.scores?.[metric].value ?? null),
    backgroundColor: bars.map((r) => GROUP_COLOR[r.experience] ?? PALETTE[4]),
    errorBars: bars.map((r) => r.scores?.[metric].ci95 ?? [null, null]),
  };
  return {
    type: "bar",
    data: { labels: bars.map((r) => r.name), datasets: [dataset] },
    options: {
      plugins: { legend: { display: false } },
      scales: { y: { min: metric.startsWith("kappa") ? -0.2 : 0, max: 1 } },
    },
  };
}

/** Each reader and each experience group against the reference labels (never against their own grade),
 * like a reader study's comparison table; the bars show one metric with its bootstrap 95% interval. */
export function ReaderPerformancePanel({ slug, performance }: { slug: string; performance: Loaded<ReaderPerformance> }) {
  const [scopeName, setScopeName] = useState<PerformanceScope["scope"]>("all");
  const [task, setTask] = useState("4grade");
  const [metric, setMetric] = useState<Metric>("kappa_quadratic");
  const scope = performance.data?.scopes.find((s) => s.scope === scopeName);
  const shown = useMemo(() => (scope ? rows(scope, task) : []), [scope, task]);
  const config = useMemo(() => (scope ? chartConfig(shown, metric) : null), [scope, shown, metric]);
  const canvas = useChart(config);
  const left = scope?.readers.reduce((n, r) => n + r.own_reference_levels, 0) ?? 0;
  const controls = (
    <span className="controls">
      <select aria-label="scope" data-testid="performance-scope" value={scopeName} onChange={(e) => setScopeName(e.target.value as PerformanceScope["scope"])}>
        <option value="all">all cases</option>
        <option value="reference_set">reference set</option>
      </select>
      <select aria-label="task" value={task} onChange={(e) => setTask(e.target.value)}>
        <option value="4grade">4 grades</option>
        <option value="binary">binary (≥ 2)</option>
      </select>
      <select aria-label="metric" value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
        {METRICS.map((m) => <option key={m.key} value={m.key}>{m.label}</option>)}
      </select>
      <a href={readerPerformanceCsv(slug)} download data-testid="performance-csv">CSV</a>
    </span>
  );
  return (
    <Panel title="Readers vs reference labels" testId="panel-reader-performance" error={performance.error} loading={!performance.data} wide actions={controls}>
      <p className="muted" data-testid="performance-note">
        {scope && scope.readers.length === 0
          ? "No reference labels with readings yet."
          : `Each reader against the other readers' consensus or another senior's adjudication, never their own grade` +
            ` (${left} levels only they read are left out). Bootstrap 95% intervals over cases (${performance.data?.n_boot} draws).`}
      </p>
      <ChartBox canvas={canvas} testId="chart-reader-performance" points={shown.filter((r) => r.levels !== null).length} />
      <table className="grid-table" data-testid="performance-table">
        <thead>
          <tr>
            <th>Reader</th><th>Levels</th>
            {METRICS.map((m) => <th key={m.key}>{m.label}</th>)}
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.key} data-testid={`performance-${r.key}`}>
              <td>{r.name}{r.experience && r.key.startsWith("reader") ? ` (${r.experience})` : ""}</td>
              <td>{r.levels ?? ""}</td>
              {METRICS.map((m) => <td key={m.key}>{cell(r.scores?.[m.key])}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}
