import type { ChartConfiguration } from "chart.js";
import { useMemo } from "react";

import { type KappaSubsetRow, fetchKappaBySubset } from "./api";
import { PALETTE, useChart } from "./charts";
import { pairName } from "./KappaTimelinePanel";
import { ChartBox, Panel } from "./Panel";
import { useLoad } from "./useLoad";

// Levels by what the reader had on screen when they set the grade (two readers: both the same).
const SUBSETS = [
  { key: "shown", label: "suggestion shown", color: PALETTE[1] },
  { key: "hidden", label: "suggestion hidden (h)", color: PALETTE[3] },
  { key: "blinded", label: "blinded", color: PALETTE[0] },
  { key: "all", label: "all cases", color: "#718096" },
] as const;

function subsetConfig(rows: KappaSubsetRow[]): ChartConfiguration {
  const pairs = [...new Set(rows.map(pairName))];
  const find = (pair: string, subset: string) => rows.find((r) => pairName(r) === pair && r.subset === subset);
  return {
    type: "bar",
    data: {
      labels: pairs,
      datasets: SUBSETS.map((s) => ({
        label: s.label,
        backgroundColor: s.color,
        data: pairs.map((p) => find(p, s.key)?.kappa ?? null),
        errorBars: pairs.map((p) => find(p, s.key)?.ci95 ?? [null, null]),
      })),
    },
    options: {
      scales: { y: { min: -0.2, max: 1, title: { display: true, text: "kappa (quadratic)" } } },
      plugins: {
        tooltip: {
          callbacks: {
            afterLabel: (item) => {
              const row = find(pairs[item.dataIndex], SUBSETS[item.datasetIndex].key);
              return row ? `n = ${row.n} levels, 95% ${row.ci95.map((v) => v?.toFixed(2)).join(" to ")}` : "";
            },
          },
        },
      },
    },
  };
}

/** Automation bias at a glance: agreement on levels read with the suggestion on screen, hidden by the reader,
 * or blinded (latest snapshot). */
export function KappaSubsetPanel({ slug, refresh }: { slug: string; refresh: number }) {
  const subsets = useLoad(() => fetchKappaBySubset(slug, "task=4grade&weighting=quadratic"), [slug, refresh]);
  const rows = subsets.data?.rows ?? [];
  const config = useMemo(() => (subsets.data ? subsetConfig(subsets.data.rows) : null), [subsets.data]);
  const canvas = useChart(config);
  return (
    <Panel title="Kappa: suggestion shown, hidden or blinded" testId="panel-kappa-subsets" error={subsets.error} loading={!subsets.data}>
      {rows.length === 0 && <p className="muted">No agreement snapshot yet.</p>}
      <ChartBox canvas={canvas} testId="chart-kappa-subsets" points={rows.length} />
    </Panel>
  );
}
