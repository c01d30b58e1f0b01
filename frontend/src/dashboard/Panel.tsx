import type { ReactNode } from "react";

interface PanelProps {
  title: string;
  testId: string;
  error?: string | null;
  loading?: boolean;
  wide?: boolean;
  actions?: ReactNode;
  children?: ReactNode;
}

/** One dashboard card: a title, optional actions, and its content (or why there is none). */
export function Panel({ title, testId, error, loading, wide, actions, children }: PanelProps) {
  return (
    <section className={wide ? "panel wide" : "panel"} data-testid={testId}>
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {error ? <p className="error" role="alert">{error}</p> : loading ? <p className="muted">Loading…</p> : children}
    </section>
  );
}

/** A chart's canvas in a sized box; data-points tells tests (and people) how many points it shows. */
export function ChartBox({ canvas, testId, points, tall }: {
  canvas: React.RefObject<HTMLCanvasElement | null>;
  testId: string;
  points: number;
  tall?: boolean;
}) {
  return (
    <div className={tall ? "chart tall" : "chart"} data-testid={testId} data-points={points}>
      <canvas ref={canvas} />
    </div>
  );
}
