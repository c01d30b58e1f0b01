import { type ReferenceCase, fetchReferenceSet, setReferenceMembership } from "./api";
import { Panel } from "./Panel";
import { useAction } from "./useAction";
import { useLoad } from "./useLoad";

/** The frozen reference set the gate judges on: admins move unread cases in or out (learning API). */
export function ReferenceSetPanel({ slug, refresh }: { slug: string; refresh: number }) {
  const cases = useLoad<ReferenceCase[]>(() => fetchReferenceSet(slug), [slug, refresh]);
  const { busy, message, run } = useAction(cases.reload, "The change failed.");
  const toggle = (row: ReferenceCase) =>
    run(`Case ${row.id} ${row.in_reference_set ? "left" : "joined"} the reference set.`, () =>
      setReferenceMembership(slug, row.id, !row.in_reference_set),
    );
  const rows = cases.data ?? [];
  const members = rows.filter((r) => r.in_reference_set).length;
  return (
    <Panel title="Reference set" testId="panel-reference-set" error={cases.error} loading={!cases.data}>
      <p data-testid="reference-set-count">
        <strong>{members}</strong> of {rows.length} cases are frozen for the gate
        <span className="muted"> · never trained on; only unread cases can move</span>
      </p>
      {message && <p className="message" role="status">{message}</p>}
      <div className="scroll">
        <table className="grid-table">
          <thead><tr><th>Case</th><th>Patient</th><th>Readings</th><th>Reference</th></tr></thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id} data-testid={`reference-row-${row.id}`}>
                <td>{row.id}</td>
                <td>{row.patient_id}</td>
                <td>{row.readings}</td>
                <td>
                  <input type="checkbox" aria-label={`case ${row.id} in the reference set`} checked={row.in_reference_set}
                    disabled={busy || row.readings > 0} title={row.readings > 0 ? "read already: frozen where it is" : undefined}
                    data-testid={`reference-toggle-${row.id}`} onChange={() => toggle(row)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
