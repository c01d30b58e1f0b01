import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { CaseHistoryEntry, fetchCaseHistory } from "../api";

const KINDS: Record<CaseHistoryEntry["kind"], string> = {
  annotation: "Annotation",
  reading: "Reading",
  level_position: "Level line",
  adjudication: "Adjudication",
};

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    return `[${value.map((v) => Math.round(v * 10) / 10).join(", ")}]`;
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A case's timeline for its admins: who changed what, when, and from which view. */
export function CaseHistoryPage() {
  const { id } = useParams();
  const [history, setHistory] = useState<CaseHistoryEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetchCaseHistory(Number(id))
      .then(setHistory)
      .catch((caught) => setError(caught.message ?? "The history cannot be loaded."));
  }, [id]);

  return (
    <main className="worklist">
      <h1>History of case {id}</h1>
      <p>
        <Link to="/dashboard">Back to the dashboard</Link>
      </p>
      {error && <p role="alert" className="error">{error}</p>}
      {history && history.length === 0 && <p data-testid="history-empty">Nothing has happened to this case yet.</p>}
      {history && history.length > 0 && (
        <table className="cases" data-testid="case-history">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Level</th>
              <th>View</th>
              <th>Change</th>
            </tr>
          </thead>
          <tbody>
            {history.map((entry, index) => (
              <tr key={index} data-testid={`history-${entry.kind}-${entry.action}`}>
                <td>{new Date(entry.at).toLocaleString()}</td>
                <td>{entry.actor ?? "—"}</td>
                <td>
                  {KINDS[entry.kind]}: {entry.action}
                </td>
                <td>{entry.level ?? ""}</td>
                <td>{entry.view}</td>
                <td>
                  {Object.entries(entry.changes)
                    .map(([field, [before, after]]) =>
                      before === null ? `${field} ${show(after)}` : `${field} ${show(before)} → ${show(after)}`,
                    )
                    .join("; ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
