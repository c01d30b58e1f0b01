import type { ChartConfiguration } from "chart.js";
import { useMemo } from "react";

import type { LabelingProgress } from "./api";
import { PALETTE, useChart, withAlpha } from "./charts";
import { ChartBox, Panel } from "./Panel";
import type { Loaded } from "./useLoad";

export function ProgressOverTime({ progress }: { progress: Loaded<LabelingProgress> }) {
  const days = progress.data?.by_day ?? [];
  const config = useMemo<ChartConfiguration | null>(() => {
    if (!progress.data) return null;
    return {
      type: "bar",
      data: {
        labels: days.map((d) => d.day),
        datasets: [
          { type: "bar", label: "levels that day", data: days.map((d) => d.levels), backgroundColor: withAlpha(PALETTE[0], 0.5), yAxisID: "y" },
          { type: "line", label: "levels, total", data: days.map((d) => d.cumulative_levels), borderColor: PALETTE[0], yAxisID: "y1" },
          { type: "line", label: "cases read, total", data: days.map((d) => d.cumulative_cases), borderColor: PALETTE[2], yAxisID: "y1" },
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "per day" } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "total" } },
        },
      },
    } as ChartConfiguration;
  }, [progress.data]); // eslint-disable-line react-hooks/exhaustive-deps
  const canvas = useChart(config);
  const last = days[days.length - 1];
  return (
    <Panel title="Labeling progress" testId="panel-progress" error={progress.error} loading={!progress.data}>
      <p className="muted" data-testid="progress-totals">
        {last ? `${last.cumulative_levels} levels, ${last.cumulative_readings} readings, ${last.cumulative_cases} of ${progress.data?.total_cases} cases` : "Nothing submitted yet."}
      </p>
      <ChartBox canvas={canvas} testId="chart-progress" points={days.length} />
    </Panel>
  );
}

const minutes = (seconds: number | null) => (seconds == null ? "—" : `${(seconds / 60).toFixed(1)} min`);

export function ReaderProgressPanel({ progress }: { progress: Loaded<LabelingProgress> }) {
  const readers = progress.data?.by_reader ?? [];
  const config = useMemo<ChartConfiguration | null>(() => {
    if (!progress.data) return null;
    return {
      type: "bar",
      data: {
        labels: readers.map((r) => r.reader),
        datasets: [
          { label: "done", data: readers.map((r) => r.done), backgroundColor: PALETTE[2] },
          { label: "remaining", data: readers.map((r) => r.remaining), backgroundColor: withAlpha(PALETTE[1], 0.5) },
        ],
      },
      options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } },
    };
  }, [progress.data]); // eslint-disable-line react-hooks/exhaustive-deps
  const canvas = useChart(config);
  return (
    <Panel title="Progress by reader" testId="panel-readers" error={progress.error} loading={!progress.data}>
      <ChartBox canvas={canvas} testId="chart-readers" points={readers.length} />
      <table className="grid-table" data-testid="reader-table">
        <thead>
          <tr><th>Reader</th><th>Experience</th><th>Done</th><th>Remaining</th><th>Levels</th><th>Median / case</th></tr>
        </thead>
        <tbody>
          {readers.map((r) => (
            <tr key={r.reader} data-testid={`reader-row-${r.reader}`}>
              <td>{r.reader}</td><td>{r.experience}</td><td>{r.done}</td><td>{r.remaining}</td><td>{r.levels}</td>
              <td>{minutes(r.median_seconds)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}
