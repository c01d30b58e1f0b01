import { Me } from "../api";

export function WorklistPage({ me }: { me: Me }) {
  return (
    <main className="worklist">
      <h1>Worklist</h1>
      <p data-testid="worklist-greeting">
        Signed in as <strong>{me.username}</strong>
        {me.experience ? ` (${me.experience} reader)` : ""}.
      </p>
      <p className="empty" data-testid="worklist-empty">
        No cases to read yet.
      </p>
    </main>
  );
}
