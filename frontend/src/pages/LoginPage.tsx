import { FormEvent, useState } from "react";
import { useNavigate } from "react-router-dom";

import { ApiError, Me, login } from "../api";

export function LoginPage({ onLogin }: { onLogin: (me: Me) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await login(username, password));
      navigate("/worklist");
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "The server cannot be reached.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form onSubmit={submit} aria-label="Log in">
        <h1>Cervical stenosis reading</h1>
        <label>
          Username
          <input name="username" autoFocus autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy || !username || !password}>
          Log in
        </button>
      </form>
    </main>
  );
}
