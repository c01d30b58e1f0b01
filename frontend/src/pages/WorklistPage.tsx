import { useEffect, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

import { Me, MyProject, Worklist, WorklistQuery, fetchMyProjects, fetchWorklist } from "../api";

const PAGE_SIZE = 50;
const FILTERS = ["project", "status", "reference", "search", "disagreement", "sort"] as const;

/** The worklist's query, kept in the address bar so that a reload or a link keeps filters and page. */
function queryOf(params: URLSearchParams): WorklistQuery {
  const query: Record<string, string> = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  return { ...query, limit: PAGE_SIZE, offset: Number(params.get("offset") ?? 0) || 0 } as WorklistQuery;
}

export function WorklistPage({ me }: { me: Me }) {
  const [worklist, setWorklist] = useState<Worklist | null>(null);
  const [projects, setProjects] = useState<MyProject[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get("search") ?? "");
  const navigate = useNavigate();
  const open = (id: number) => navigate(`/read/${id}`);
  const query = queryOf(params);
  const key = params.toString();

  useEffect(() => {
    fetchMyProjects().then(setProjects).catch(() => setProjects([]));
  }, []);

  useEffect(() => {
    fetchWorklist(queryOf(new URLSearchParams(key)))
      .then((found) => {
        setWorklist(found);
        setError(null);
      })
      .catch((caught) => setError(caught.message ?? "The worklist cannot be loaded."));
  }, [key]);

  useEffect(() => {
    // Enter anywhere on the page (not on a control) opens the next case: reading starts keyboard-only.
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      const controls = ["BUTTON", "INPUT", "TEXTAREA", "SELECT", "A", "TR"];
      if (event.key !== "Enter" || controls.includes(target.tagName)) return;
      if (worklist?.next_case) navigate(`/read/${worklist.next_case}`);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [worklist, navigate]);

  /** A filter changed: back to the first page. */
  const setFilter = (name: (typeof FILTERS)[number], value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("offset");
    setParams(next);
  };
  const goTo = (offset: number) => {
    const next = new URLSearchParams(params);
    if (offset > 0) next.set("offset", String(offset));
    else next.delete("offset");
    setParams(next);
  };

  const offset = query.offset ?? 0;
  const filtered = FILTERS.some((name) => name !== "sort" && params.get(name));
  return (
    <main className="worklist">
      <h1>Worklist</h1>
      <p data-testid="worklist-greeting">
        Signed in as <strong>{me.username}</strong>
        {me.experience ? ` (${me.experience} reader)` : ""}.
      </p>
      {error && <p role="alert" className="error">{error}</p>}
      {worklist && (
        <p data-testid="worklist-counts">
          {worklist.done} done, {worklist.remaining} remaining
        </p>
      )}
      <form className="worklist-filters" onSubmit={(event) => { event.preventDefault(); setFilter("search", search.trim()); }}>
        {projects.length > 1 && (
          <label>
            Project{" "}
            <select value={query.project ?? ""} onChange={(e) => setFilter("project", e.target.value)} data-testid="filter-project">
              <option value="">all</option>
              {projects.map((p) => <option key={p.slug} value={p.slug}>{p.name}</option>)}
            </select>
          </label>
        )}
        <label>
          Status{" "}
          <select value={query.status ?? ""} onChange={(e) => setFilter("status", e.target.value)} data-testid="filter-status">
            <option value="">all</option>
            <option value="new">new</option>
            <option value="draft">draft</option>
            <option value="submitted">submitted</option>
          </select>
        </label>
        <label>
          Reference set{" "}
          <select value={query.reference ?? ""} onChange={(e) => setFilter("reference", e.target.value)} data-testid="filter-reference">
            <option value="">all</option>
            <option value="true">in it</option>
            <option value="false">not in it</option>
          </select>
        </label>
        <label title="Only cases you have submitted: how far the readers' grades of one level lie apart">
          Disagreement{" "}
          <select value={query.disagreement ?? ""} onChange={(e) => setFilter("disagreement", e.target.value)} data-testid="filter-disagreement">
            <option value="">any</option>
            <option value="1">1 grade or more</option>
            <option value="2">2 grades or more</option>
            <option value="3">3 grades</option>
          </select>
        </label>
        <label>
          Sort{" "}
          <select value={query.sort ?? "priority"} onChange={(e) => setFilter("sort", e.target.value === "priority" ? "" : e.target.value)} data-testid="sort">
            <option value="priority">reading order</option>
            <option value="-date">newest first</option>
            <option value="date">oldest first</option>
          </select>
        </label>
        <label>
          Patient{" "}
          <input type="search" value={search} maxLength={64} placeholder="patient id" onChange={(e) => setSearch(e.target.value)} data-testid="search" />
        </label>
        <button type="submit">Search</button>
      </form>
      {worklist && worklist.count === 0 && (
        <p className="empty" data-testid="worklist-empty">
          {filtered ? "No case matches these filters." : "No cases to read yet."}
        </p>
      )}
      {worklist && worklist.count > 0 && (
        <>
          {worklist.next_case && <p className="hint">Enter opens the next case; click a row (or Tab to it and press Enter) to open any case.</p>}
          <table className="cases" data-testid="worklist-cases">
            <thead>
              <tr>
                <th>Case</th>
                <th>Patient</th>
                <th>Project</th>
                <th>Status</th>
                <th title="Shown only where it cannot bias the read (never on a blinded case)">Priority</th>
                <th>Disagreement</th>
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
                  <td>{c.id}{c.in_reference_set ? " (reference)" : ""}</td>
                  <td>{c.patient_id}</td>
                  <td>{c.project}</td>
                  <td>{c.id === worklist.next_case ? `${c.status} (next)` : c.status}</td>
                  <td>{c.priority === null ? "" : c.priority.toFixed(2)}</td>
                  <td>{c.disagreement === null ? "" : c.disagreement}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" data-testid="pager">
            <button type="button" disabled={offset === 0} onClick={() => goTo(Math.max(0, offset - PAGE_SIZE))}>
              Previous
            </button>
            <span data-testid="page-range">
              {offset + 1}-{offset + worklist.cases.length} of {worklist.count}
            </span>
            <button type="button" disabled={offset + PAGE_SIZE >= worklist.count} onClick={() => goTo(offset + PAGE_SIZE)} data-testid="next-page">
              Next
            </button>
          </nav>
        </>
      )}
    </main>
  );
}
