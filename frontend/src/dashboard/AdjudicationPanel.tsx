import { Link } from "react-router-dom";

import { type AdjudicationItem, type AdjudicationSummary, fetchAdjudicationSummary, fetchOpenAdjudications } from "./api";
import { Panel } from "./Panel";
import { useLoad } from "./useLoad";

const REASONS: Record<string, string> = {
  readers_disagree: "readers differ by ≥ 2 grades",
  model_senior_disagree: "model and a senior differ by ≥ 2",
};

function Counts({ summary }: { summary: AdjudicationSummary }) {
  return (
    <p data-testid="adjudication-counts">
      <strong>{summary.open}</strong> open, {summary.resolved} resolved
      {summary.oldest_open_at && <span className="muted"> · oldest open since {summary.oldest_open_at.slice(0, 10)}</span>}
      {Object.entries(summary.open_by_reason).map(([reason, n]) => (
        <span key={reason} className="muted"> · {n} {REASONS[reason] ?? reason}</span>
      ))}
    </p>
  );
}

/** Levels waiting for a senior's decision: counts, then the oldest open items. */
export function AdjudicationPanel({ slug, refresh }: { slug: string; refresh: number }) {
  const summary = useLoad(() => fetchAdjudicationSummary(slug), [slug, refresh]);
  const items = useLoad<AdjudicationItem[]>(() => fetchOpenAdjudications(slug), [slug, refresh]);
  return (
    <Panel title="Adjudication queue" testId="panel-adjudication" error={summary.error ?? items.error} loading={!summary.data}>
      {summary.data && <Counts summary={summary.data} />}
      {items.data && items.data.length > 0 && (
        <table className="grid-table">
          <thead><tr><th>Case</th><th>Level</th><th>Reason</th><th>Grades</th><th>Since</th></tr></thead>
          <tbody>
            {items.data.slice(0, 10).map((item) => (
              <tr key={item.id}>
                <td><Link to={`/cases/${item.case}/history`}>{item.case}</Link></td><td>{item.level}</td><td>{REASONS[item.reason] ?? item.reason}</td>
                <td>{Object.entries(item.grades).map(([who, g]) => `${who}: ${g}`).join(", ")}</td>
                <td>{item.created_at.slice(0, 10)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
