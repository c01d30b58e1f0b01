import type { ChartConfiguration } from "chart.js";
import { useMemo } from "react";

import type { GradeDistribution } from "./api";
import { PALETTE, useChart } from "./charts";
import { ChartBox, Panel } from "./Panel";
import type { Loaded } from "./useLoad";

const share = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total ? (100 * c) / total : 0));
};

/** Share of each Kang grade: the reference labels (frozen set, training) and each reader group. */
export function GradeDistributionPanel({ grades }: { grades: Loaded<GradeDistribution> }) {
  const sets = useMemo(() => {
    if (!grades.data) return [];
    return [
      { name: "reference (frozen)", counts: grades.data.reference.frozen },
      { name: "reference (training)", counts: grades.data.reference.training },
      ...grades.data.reader_groups.map((g) => ({ name: `${g.experience} readers`, counts: g.counts })),
    ];
  }, [grades.data]);
  const config = useMemo<ChartConfiguration | null>(() => {
    if (!grades.data) return null;
    return {
      type: "bar",
      data: {
        labels: grades.data.grades.map((g) => `grade ${g}`),
        datasets: sets.map((s, i) => ({ label: s.name, data: share(s.counts), backgroundColor: PALETTE[i % PALETTE.length] })),
      },
      options: {
        scales: { y: { beginAtZero: true, title: { display: true, text: "% of levels" } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${sets[item.datasetIndex].counts[item.dataIndex]} (${Number(item.raw).toFixed(0)}%)`,
            },
          },
        },
      },
    };
  }, [grades.data, sets]);
  const canvas = useChart(config);
  const points = sets.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0);
  return (
    <Panel title="Grade distribution" testId="panel-grades" error={grades.error} loading={!grades.data}>
      <ChartBox canvas={canvas} testId="chart-grades" points={points} />
    </Panel>
  );
}
