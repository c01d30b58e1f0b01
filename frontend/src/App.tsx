import { useEffect, useState } from "react";
import { Navigate, Route, Routes, useNavigate } from "react-router-dom";

import { ApiError, Me, fetchMe, logout } from "./api";
import { LoginPage } from "./pages/LoginPage";
import { ReadingPage } from "./pages/ReadingPage";
import { WorklistPage } from "./pages/WorklistPage";

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const navigate = useNavigate();

  useEffect(() => {
    fetchMe()
      .then(setMe)
      .catch((error) => {
        if (!(error instanceof ApiError)) console.error(error);
        setMe(null);
      });
  }, []);

  if (me === undefined) return <p className="loading">Loading…</p>;

  const onLogout = async () => {
    await logout();
    setMe(null);
    navigate("/login");
  };

  return (
    <>
      {me && (
        <header className="topbar">
          <span className="brand">Cervical stenosis reading</span>
          <span data-testid="current-user">
            {me.username} · {me.experience ?? "—"} {me.role ?? ""}
          </span>
          <button onClick={onLogout}>Log out</button>
        </header>
      )}
      <Routes>
        <Route path="/login" element={me ? <Navigate to="/worklist" /> : <LoginPage onLogin={setMe} />} />
        <Route path="/worklist" element={me ? <WorklistPage me={me} /> : <Navigate to="/login" />} />
        <Route path="/read/:id" element={me ? <ReadingPage /> : <Navigate to="/login" />} />
        <Route path="*" element={<Navigate to={me ? "/worklist" : "/login"} />} />
      </Routes>
    </>
  );
}
