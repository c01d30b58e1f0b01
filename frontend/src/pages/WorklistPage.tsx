import { useEffect, useState } from "react";

import { Me, Worklist, fetchWorklist } from "../api";

export function WorklistPage({ me }: { me: Me }) {
  const [worklist, setWorklist] = useState<Worklist | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetchWorklist()
      .then(setWorklist)
      .catch((caught) => setError(caught.message ?? "The worklist cannot be loaded."));
  }, []);

  return (
    <main className="worklist">
      <h1>Worklist</h1>
      <p data-testid="worklist-greeting">
        Signed in as <strong>{me.username}</strong>
        {me.experience ? ` (${me.experience} reader)` : ""}.
      </p>
      {error && <p role="alert" className="error">{error}</p>}
      {worklist && worklist.cases.length === 0 && (
        <p className="empty" data-testid="worklist-empty">
          No cases to read yet.
        </p>
      )}
      {worklist && worklist.cases.length > 0 && (
        <>
          <p data-testid="worklist-counts">
            {worklist.done} done, {worklist.remaining} remaining
          </p>
          <table className="cases" data-testid="worklist-cases">
            <thead>
              <tr>
                <th>Case</th>
                <th>Patient</th>
                <th>Project</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {worklist.cases.map((c) => (
                <tr key={c.id} className={c.id === worklist.next_case ? "next" : undefined}>
                  <td>{c.id}</td>
                  <td>{c.patient_id}</td>
                  <td>{c.project}</td>
                  <td>{c.id === worklist.next_case ? `${c.status} (next)` : c.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </main>
  );
}
