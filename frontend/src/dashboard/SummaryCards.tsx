import type { Summary } from "./api";
import type { Loaded } from "./useLoad";

const kappa = (value: number | null | undefined) => (value == null ? "—" : value.toFixed(2));

/** The first line of the dashboard: is the project moving, and is the model any good. */
export function SummaryCards({ summary }: { summary: Loaded<Summary> }) {
  const s = summary.data;
  if (summary.error) return <p className="error" role="alert">{summary.error}</p>;
  if (!s) return <p className="muted">Loading…</p>;
  const cards: [string, string, string][] = [
    ["cases", `${s.cases_read} / ${s.cases}`, `cases read (${s.reference_cases} in the reference set)`],
    ["levels", String(s.levels_submitted), `levels graded in ${s.readings} readings by ${s.readers} readers`],
    ["champion", s.champion?.model_version ?? "none", `reference kappa ${kappa(s.champion?.reference_kappa)}`],
    ...s.model_vs_groups.map((g): [string, string, string] => [`model-${g.group}`, kappa(g.kappa), `model vs ${g.group}s (n=${g.n})`]),
    ["training", s.active_training ? s.active_training.status : "idle", s.active_training?.progress.stage ?? "no training under way"],
    ["adjudications", String(s.open_adjudications), "levels waiting for a senior"],
  ];
  return (
    <div className="cards" data-testid="summary-cards">
      {cards.map(([key, value, label]) => (
        <div className="card" key={key} data-testid={`card-${key}`}>
          <div className="value">{value}</div>
          <div className="label">{label}</div>
        </div>
      ))}
    </div>
  );
}
