import type { ChartConfiguration, ChartDataset } from "chart.js";
import { useMemo, useState } from "react";

import { type KappaSeries, type KappaTimeline, fetchKappaTimeline } from "./api";
import { PALETTE, dateTimeLabel, timeTick, useChart, withAlpha } from "./charts";
import { ChartBox, Panel } from "./Panel";
import { useLoad } from "./useLoad";

const PAIRS = {
  groups: "kind=model_group&kind=group_group",
  readers: "kind=model_reader&kind=reader_reader",
};

export const pairName = (s: { rater_a: string; rater_b: string }) =>
  s.rater_a === "model" ? `model vs ${s.rater_b}` : `${s.rater_a} vs ${s.rater_b}`;

/** A series as three datasets: its interval's low and high edges (filled between) and the kappa line. */
function seriesDatasets(series: KappaSeries, color: string): ChartDataset<"line">[] {
  const at = (p: { taken_at: string }) => Date.parse(p.taken_at);
  const band = { pointRadius: 0, borderWidth: 0, backgroundColor: withAlpha(color, 0.15), showLine: true };
  return [
    { ...band, label: `${pairName(series)} 95% low`, data: series.points.map((p) => ({ x: at(p), y: p.ci95[0] })), fill: false },
    { ...band, label: `${pairName(series)} 95% high`, data: series.points.map((p) => ({ x: at(p), y: p.ci95[1] })), fill: "-1" },
    {
      label: pairName(series), borderColor: color, backgroundColor: color, pointRadius: 2, showLine: true,
      data: series.points.map((p) => ({ x: at(p), y: p.kappa })),
    },
  ] as ChartDataset<"line">[];
}

function timelineConfig(timeline: KappaTimeline): ChartConfiguration {
  const datasets = timeline.series.flatMap((s, i) => seriesDatasets(s, PALETTE[i % PALETTE.length]));
  const marks = timeline.promotions.map((p) => ({ x: Date.parse(p.promoted_at), label: `v${p.number}` }));
  const times = timeline.series.flatMap((s) => s.points.map((p) => Date.parse(p.taken_at)));
  const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
  return {
    type: "line",
    data: { datasets },
    options: {
      parsing: false,
      scales: {
        x: { type: "linear", ticks: { callback: timeTick(span), maxTicksLimit: 8 } },
        y: { min: -0.2, max: 1, title: { display: true, text: `kappa (${timeline.weighting})` } },
      },
      plugins: {
        legend: { labels: { filter: (item) => !item.text.includes("95%") } },
        tooltip: { callbacks: { title: (items) => dateTimeLabel(items[0].parsed.x ?? 0) } },
        // @ts-expect-error: the dashboard's own plugin option (see charts.ts)
        verticalMarks: { marks },
      },
    },
  };
}

export function KappaTimelinePanel({ slug, refresh }: { slug: string; refresh: number }) {
  const [task, setTask] = useState("4grade");
  const [weighting, setWeighting] = useState("quadratic");
  const [pairs, setPairs] = useState<keyof typeof PAIRS>("groups");
  const query = `task=${task}&weighting=${weighting}&${PAIRS[pairs]}`;
  const timeline = useLoad(() => fetchKappaTimeline(slug, query), [slug, query, refresh]);
  const config = useMemo(() => (timeline.data ? timelineConfig(timeline.data) : null), [timeline.data]);
  const canvas = useChart(config);
  const points = timeline.data?.series.reduce((n, s) => n + s.points.length, 0) ?? 0;
  const controls = (
    <span className="controls">
      <select aria-label="task" value={task} onChange={(e) => setTask(e.target.value)}>
        <option value="4grade">4 grades</option>
        <option value="binary">binary (≥ 2)</option>
      </select>
      <select aria-label="weighting" value={weighting} onChange={(e) => setWeighting(e.target.value)}>
        <option value="quadratic">quadratic</option>
        <option value="none">unweighted</option>
      </select>
      <select aria-label="pairs" value={pairs} onChange={(e) => setPairs(e.target.value as keyof typeof PAIRS)}>
        <option value="groups">model vs groups, group vs group</option>
        <option value="readers">model vs each reader, reader vs reader</option>
      </select>
    </span>
  );
  return (
    <Panel title="Kappa over time" testId="panel-kappa-timeline" error={timeline.error} loading={!timeline.data} wide actions={controls}>
      <p className="muted">
        Shaded: bootstrap 95% interval. Dashed lines: a model version promoted to champion.
        {timeline.data && ` ${timeline.data.series.length} series, ${timeline.data.promotions.length} promotions.`}
      </p>
      <ChartBox canvas={canvas} testId="chart-kappa-timeline" points={points} tall />
    </Panel>
  );
}
