import { type RegistryRow, promoteVersion, rollbackChampion } from "./api";
import { Panel } from "./Panel";
import { useAction } from "./useAction";
import type { Loaded } from "./useLoad";

const fixed = (value: number | null | undefined) => (value == null ? "—" : value.toFixed(3));
const ci = (row: RegistryRow) => {
  const c = row.reference.kappa_quadratic_ci95;
  return c && c[0] != null && c[1] != null ? `${c[0].toFixed(2)}–${c[1].toFixed(2)}` : "";
};
const PROMOTABLE = new Set(["challenger", "retired"]);
const history = (row: RegistryRow) =>
  row.promotions.map((p) => `${p.kind} ${p.at.slice(0, 16).replace("T", " ")} by ${p.by ?? "the gate"}`).join("\n");

/** Every version with its reference metrics; promote a version or roll back the champion (learning API). */
export function ModelRegistryPanel({ slug, registry, onChange }: { slug: string; registry: Loaded<RegistryRow[]>; onChange: () => void }) {
  const { busy, message, run: act } = useAction(onChange);
  const rows = registry.data ?? [];
  const rollback = (
    <button disabled={busy || !rows.some((r) => r.status === "champion")} data-testid="rollback"
      onClick={() => act("Rolled back to the previous champion.", () => rollbackChampion(slug))}>
      Roll back champion
    </button>
  );
  return (
    <Panel title="Model registry" testId="panel-registry" error={registry.error} loading={!registry.data} wide actions={rollback}>
      {message && <p className="message" role="status">{message}</p>}
      <div className="scroll">
        <table className="grid-table" data-testid="registry-table">
          <thead>
            <tr>
              <th>Version</th><th>Status</th><th>Training labels</th><th>κ quadratic (95%)</th><th>Accuracy</th>
              <th>Binary κ</th><th>n</th><th>Gate</th><th>Promoted</th><th />
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.number} data-testid={`registry-row-${row.number}`} className={row.status === "champion" ? "champion" : undefined}>
                <td>{row.model_version}</td>
                <td><span className={`badge ${row.status}`}>{row.status}</span></td>
                <td>{row.training_labels ?? "—"}</td>
                <td>{fixed(row.reference.kappa_quadratic)} <span className="muted">{ci(row)}</span></td>
                <td>{fixed(row.reference.accuracy)}</td>
                <td>{fixed(row.reference.binary_kappa)}</td>
                <td>{row.reference.n ?? "—"}</td>
                <td className="reason" title={row.error || row.gate.reason || ""}>{row.error ? `failed: ${row.error}` : row.gate.reason ?? "—"}</td>
                <td title={history(row)}>{row.promoted_at ? row.promoted_at.slice(0, 16).replace("T", " ") : ""}</td>
                <td>
                  {PROMOTABLE.has(row.status) && (
                    <button disabled={busy} data-testid={`promote-${row.number}`}
                      onClick={() => act(`${row.model_version} is the champion now.`, () => promoteVersion(slug, row.number))}>
                      Promote
                    </button>
                  )}
                  {row.status === "retired" && row.promotions.length > 0 && (
                    <button disabled={busy} data-testid={`rollback-${row.number}`}
                      onClick={() => act(`Rolled back to ${row.model_version}.`, () => rollbackChampion(slug, row.number))}>
                      Roll back here
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
