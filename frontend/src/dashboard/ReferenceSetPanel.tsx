import { useState } from "react";

import { type ReferenceCase, fetchReferenceSet, moveReferenceCases, setReferenceMembership } from "./api";
import { Panel } from "./Panel";
import { useAction } from "./useAction";
import { useLoad } from "./useLoad";

type Shown = "all" | "members" | "others";

const SHOWN: Record<Shown, (row: ReferenceCase) => boolean> = {
  all: () => true,
  members: (row) => row.in_reference_set,
  others: (row) => !row.in_reference_set,
};

/** The frozen reference set the gate judges on: admins move unread cases in or out, one at a time or
 * every unread case the filter shows at once (learning API). */
export function ReferenceSetPanel({ slug, refresh }: { slug: string; refresh: number }) {
  const cases = useLoad<ReferenceCase[]>(() => fetchReferenceSet(slug), [slug, refresh]);
  const { busy, message, run } = useAction(cases.reload, "The change failed.");
  const [query, setQuery] = useState("");
  const [shown, setShown] = useState<Shown>("all");
  const toggle = (row: ReferenceCase) =>
    run(`Case ${row.id} ${row.in_reference_set ? "left" : "joined"} the reference set.`, () =>
      setReferenceMembership(slug, row.id, !row.in_reference_set),
    );
  const rows = cases.data ?? [];
  const members = rows.filter((r) => r.in_reference_set).length;
  const needle = query.trim().toLowerCase();
  const visible = rows.filter(
    (row) => SHOWN[shown](row) && (!needle || `${row.id} ${row.patient_id}`.toLowerCase().includes(needle)),
  );
  const unread = visible.filter((r) => r.readings === 0);
  const toAdd = unread.filter((r) => !r.in_reference_set).map((r) => r.id);
  const toRemove = unread.filter((r) => r.in_reference_set).map((r) => r.id);
  const moveAll = (ids: number[], inSet: boolean) =>
    run(`${ids.length} case(s) ${inSet ? "joined" : "left"} the reference set.`, () =>
      moveReferenceCases(slug, ids, inSet),
    );
  return (
    <Panel title="Reference set" testId="panel-reference-set" error={cases.error} loading={!cases.data}>
      <p data-testid="reference-set-count">
        <strong>{members}</strong> of {rows.length} cases are frozen for the gate
        <span className="muted"> · never trained on; only unread cases can move</span>
      </p>
      <div className="actions">
        <input type="search" placeholder="Case or patient" aria-label="filter cases" value={query}
          data-testid="reference-filter" onChange={(e) => setQuery(e.target.value)} />
        <select aria-label="show" value={shown} data-testid="reference-shown"
          onChange={(e) => setShown(e.target.value as Shown)}>
          <option value="all">all cases</option>
          <option value="members">in the reference set</option>
          <option value="others">not in it</option>
        </select>
        <button type="button" disabled={busy || toAdd.length === 0} data-testid="reference-add-shown"
          onClick={() => moveAll(toAdd, true)}>Add {toAdd.length} shown</button>
        <button type="button" disabled={busy || toRemove.length === 0} data-testid="reference-remove-shown"
          onClick={() => moveAll(toRemove, false)}>Remove {toRemove.length} shown</button>
      </div>
      {message && <p className="message" role="status">{message}</p>}
      <div className="scroll">
        <table className="grid-table">
          <thead><tr><th>Case</th><th>Patient</th><th>Readings</th><th>Reference</th></tr></thead>
          <tbody>
            {visible.map((row) => (
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
