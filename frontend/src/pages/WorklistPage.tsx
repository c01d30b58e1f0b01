import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";

import { Me, Worklist, fetchWorklist } from "../api";

export function WorklistPage({ me }: { me: Me }) {
  const [worklist, setWorklist] = useState<Worklist | null>(null);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();
  const open = (id: number) => navigate(`/read/${id}`);

  useEffect(() => {
    fetchWorklist()
      .then(setWorklist)
      .catch((caught) => setError(caught.message ?? "The worklist cannot be loaded."));
  }, []);

  useEffect(() => {
    // Enter anywhere on the page (not on a control) opens the next case: reading starts keyboard-only.
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (event.key !== "Enter" || ["BUTTON", "INPUT", "TEXTAREA", "A", "TR"].includes(target.tagName)) return;
      if (worklist?.next_case) navigate(`/read/${worklist.next_case}`);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [worklist, navigate]);

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
          {worklist.next_case && <p className="hint">Enter opens the next case; click a row (or Tab to it and press Enter) to open any case.</p>}
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
                <tr
                  key={c.id}
                  className={c.id === worklist.next_case ? "next" : undefined}
                  tabIndex={0}
                  data-testid={`case-row-${c.id}`}
                  onClick={() => open(c.id)}
                  onKeyDown={(event) => event.key === "Enter" && open(c.id)}
                >
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
