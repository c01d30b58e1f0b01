import type { ChartConfiguration, ChartDataset } from "chart.js";
import { useMemo } from "react";

import type { LabelEfficiency } from "./api";
import { PALETTE, useChart, withAlpha } from "./charts";
import { ChartBox, Panel } from "./Panel";
import type { Loaded } from "./useLoad";

function efficiencyConfig(data: LabelEfficiency): ChartConfiguration {
  const own = data.project_points;
  const color = PALETTE[0];
  const band = { pointRadius: 0, borderWidth: 0, backgroundColor: withAlpha(color, 0.15), showLine: true };
  const datasets: ChartDataset<"line">[] = [
    { ...band, label: "95% low", data: own.map((p) => ({ x: p.labels, y: p.ci95[0] })), fill: false },
    { ...band, label: "95% high", data: own.map((p) => ({ x: p.labels, y: p.ci95[1] })), fill: "-1" },
    { label: "this project", borderColor: color, backgroundColor: color, showLine: true, pointRadius: 3,
      data: own.map((p) => ({ x: p.labels, y: p.kappa_quadratic })) },
  ] as ChartDataset<"line">[];
  data.benchmark.forEach((strategy, i) => {
    const c = PALETTE[(i + 1) % PALETTE.length];
    strategy.curves.forEach((curve, k) => {
      datasets.push({
        label: k === 0 ? `benchmark: ${strategy.strategy}` : `benchmark: ${strategy.strategy} (seed ${curve.seed})`,
        borderColor: withAlpha(c, 0.7), backgroundColor: c, borderDash: [5, 4], borderWidth: 1.5, pointRadius: 1.5,
        showLine: true, data: curve.points.map((p) => ({ x: p.labels, y: p.kappa_quadratic })),
      } as ChartDataset<"line">);
    });
  });
  return {
    type: "line",
    data: { datasets },
    options: {
      parsing: false,
      scales: {
        x: { type: "linear", beginAtZero: true, title: { display: true, text: "training labels (levels)" } },
        y: { min: -0.2, max: 1, title: { display: true, text: "quadratic kappa on the reference set" } },
      },
      plugins: { legend: { labels: { filter: (item) => !item.text.includes("95%") && !item.text.includes("(seed") } } },
    },
  };
}

/** How agreement with the reference set grows with labels: this project's versions, and the benchmark's strategies. */
export function LabelEfficiencyPanel({ efficiency }: { efficiency: Loaded<LabelEfficiency> }) {
  const config = useMemo(() => (efficiency.data ? efficiencyConfig(efficiency.data) : null), [efficiency.data]);
  const canvas = useChart(config);
  const data = efficiency.data;
  return (
    <Panel title="Label efficiency" testId="panel-efficiency" error={efficiency.error} loading={!data}>
      <p className="muted">
        {data && `${data.project_points.length} model versions.`}
        {data?.benchmark_note ? ` Benchmark: ${data.benchmark_note}.` : ""}
        {data?.benchmark.map((s) => s.mean_labels_to_target != null && ` ${s.strategy}: ${Math.round(s.mean_labels_to_target)} labels to target.`)}
      </p>
      <ChartBox canvas={canvas} testId="chart-efficiency" points={data?.project_points.length ?? 0} />
    </Panel>
  );
}
