// Chart.js set up once for the dashboard: only the pieces it draws, dark-theme defaults, no animation
// (charts are drawn at once, and re-drawn when the data changes), and two small plugins: vertical marks
// (model promotions) and error bars on bar charts (kappa intervals).

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Filler,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  type Plugin,
  PointElement,
  ScatterController,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "react";

export interface VerticalMark {
  x: number;
  label: string;
}

const verticalMarks: Plugin = {
  id: "verticalMarks",
  afterDatasetsDraw(chart, _args, options: { marks?: VerticalMark[] }) {
    const marks = options.marks ?? [];
    const x = chart.scales.x;
    if (!x || marks.length === 0) return;
    const { ctx, chartArea } = chart;
    ctx.save();
    ctx.strokeStyle = "#f6ad55";
    ctx.fillStyle = "#f6ad55";
    ctx.setLineDash([4, 4]);
    ctx.font = "11px system-ui";
    for (const mark of marks) {
      const px = x.getPixelForValue(mark.x);
      if (px < chartArea.left || px > chartArea.right) continue;
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(mark.label, px + 3, chartArea.top + 10);
    }
    ctx.restore();
  },
};

// A bar dataset may carry `errorBars: [low, high][]`, drawn as whiskers over its bars.
const errorBars: Plugin = {
  id: "errorBars",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const y = chart.scales.y;
    ctx.save();
    ctx.strokeStyle = "#e6e8eb";
    chart.data.datasets.forEach((dataset, index) => {
      const bars = (dataset as { errorBars?: (number | null)[][] }).errorBars;
      const meta = chart.getDatasetMeta(index);
      if (!bars || meta.hidden) return;
      meta.data.forEach((element, i) => {
        const [low, high] = bars[i] ?? [];
        if (low == null || high == null) return;
        const px = element.x;
        ctx.beginPath();
        ctx.moveTo(px, y.getPixelForValue(low));
        ctx.lineTo(px, y.getPixelForValue(high));
        for (const v of [low, high]) {
          ctx.moveTo(px - 4, y.getPixelForValue(v));
          ctx.lineTo(px + 4, y.getPixelForValue(v));
        }
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

Chart.register(
  BarController, BarElement, CategoryScale, Filler, Legend, LineController, LineElement, LinearScale,
  PointElement, ScatterController, Tooltip, verticalMarks, errorBars,
);
Chart.defaults.animation = false;
Chart.defaults.color = "#c3cad4";
Chart.defaults.borderColor = "#2a313b";
Chart.defaults.maintainAspectRatio = false;

export const PALETTE = ["#63b3ed", "#f6ad55", "#68d391", "#fc8181", "#b794f4", "#4fd1c5", "#f687b3", "#faf089"];

export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Tick labels for a time axis in ms: month-day over long spans, hour:minute within two days. */
export const timeTick = (spanMs: number) => (value: number | string) =>
  new Date(Number(value)).toISOString().slice(spanMs > 2 * 86_400_000 ? 5 : 11, spanMs > 2 * 86_400_000 ? 10 : 16);
export const dateTimeLabel = (value: number) => new Date(value).toISOString().slice(0, 16).replace("T", " ");

/** A canvas that shows `config`; the chart is rebuilt whenever the config object changes. */
export function useChart(config: ChartConfiguration | null) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current || !config) return;
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [config]);
  return canvas;
}
