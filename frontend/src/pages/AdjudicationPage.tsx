import { useEffect, useState } from "react";
import { Link } from "react-router-dom";

import { MyProject, fetchMyProjects } from "../api";
import { type AdjudicationItem, fetchOpenAdjudications, resolveAdjudication } from "../dashboard/api";

const REASONS: Record<string, string> = {
  readers_disagree: "readers differ by 2 grades or more",
  model_senior_disagree: "the model and a senior differ by 2 grades or more",
};

/** One level waiting for a decision: the readers' grades side by side, the model's, and the decision. */
function ItemRow({ slug, item, onResolved }: { slug: string; item: AdjudicationItem; onResolved: (item: AdjudicationItem) => void }) {
  const [grade, setGrade] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);
  const readers = Object.entries(item.grades).filter(([rater]) => rater !== item.model_version);
  const resolve = async () => {
    setError(null);
    try {
      onResolved(await resolveAdjudication(slug, item.id, Number(grade), note.trim()));
    } catch (caught) {
      setError((caught as Error).message ?? "The decision could not be saved.");
    }
  };
  return (
    <tr data-testid={`adjudication-${item.id}`}>
      <td>
        <Link to={`/read/${item.case}`}>case {item.case}</Link>
      </td>
      <td>{item.level}</td>
      <td>{REASONS[item.reason] ?? item.reason}</td>
      <td data-testid="reader-grades">
        {readers.map(([rater, g]) => (
          <span key={rater} className="grade-chip">
            {rater}: <strong>{g}</strong>
          </span>
        ))}
      </td>
      <td data-testid="model-grade">{item.model_grade === null ? "—" : `${item.model_grade} (${item.model_version})`}</td>
      <td>
        {item.status === "resolved" ? (
          <span data-testid="resolution">
            Grade {item.resolved_grade} by {item.resolved_by}: {item.note} · reference label{" "}
            <strong data-testid="reference-grade">{item.reference_grade}</strong>
          </span>
        ) : (
          <form
            className="resolve"
            onSubmit={(event) => {
              event.preventDefault();
              void resolve();
            }}
          >
            <select value={grade} onChange={(e) => setGrade(e.target.value)} aria-label="grade" required>
              <option value="">grade…</option>
              {[0, 1, 2, 3].map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
            <input value={note} onChange={(e) => setNote(e.target.value)} placeholder="reason" aria-label="reason" required maxLength={2000} />
            <button type="submit" disabled={grade === "" || note.trim() === ""}>
              Resolve
            </button>
            {error && <span role="alert" className="error">{error}</span>}
          </form>
        )}
      </td>
    </tr>
  );
}

/** The adjudication queue of a senior (levels of cases they have read themselves) or an admin. */
export function AdjudicationPage() {
  const [projects, setProjects] = useState<MyProject[] | null>(null);
  const [slug, setSlug] = useState("");
  const [items, setItems] = useState<AdjudicationItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetchMyProjects()
      .then((found) => {
        setProjects(found);
        if (found.length) setSlug(found[0].slug);
      })
      .catch((caught) => setError(caught.message));
  }, []);

  useEffect(() => {
    if (!slug) return;
    setItems(null);
    fetchOpenAdjudications(slug)
      .then((found) => {
        setItems(found);
        setError(null);
      })
      .catch((caught) => setError(caught.message ?? "The queue cannot be loaded."));
  }, [slug]);

  const replace = (resolved: AdjudicationItem) =>
    setItems((current) => current && current.map((item) => (item.id === resolved.id ? resolved : item)));

  return (
    <main className="worklist">
      <h1>Adjudication</h1>
      <p className="hint">Levels whose readings disagree, on cases you have read yourself. Your decision becomes the level's reference label.</p>
      {projects && projects.length > 1 && (
        <label>
          Project{" "}
          <select value={slug} onChange={(e) => setSlug(e.target.value)}>
            {projects.map((p) => (
              <option key={p.slug} value={p.slug}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {items && items.length === 0 && <p data-testid="adjudication-empty">Nothing waits for your decision.</p>}
      {items && items.length > 0 && (
        <table className="cases" data-testid="adjudication-queue">
          <thead>
            <tr>
              <th>Case</th>
              <th>Level</th>
              <th>Why</th>
              <th>Readers</th>
              <th>Model</th>
              <th>Decision</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <ItemRow key={item.id} slug={slug} item={item} onResolved={replace} />
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
