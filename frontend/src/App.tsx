import { type ReactNode, Suspense, lazy, useEffect, useState } from "react";
import { Link, Navigate, Route, Routes, useNavigate } from "react-router-dom";

import { ApiError, Me, fetchMe, fetchMyProjects, logout } from "./api";
import { LoginPage } from "./pages/LoginPage";
import { WorklistPage } from "./pages/WorklistPage";

// The reading view carries Cornerstone3D (a few MB): the login page goes without it; a signed-in
// reader's browser fetches it at once (in the background on the worklist), and a reading URL
// asks for it while the session is still being checked.
const loadReadingPage = () => import("./pages/ReadingPage").then((m) => ({ default: m.ReadingPage }));
const ReadingPage = lazy(loadReadingPage);
if (window.location.pathname.startsWith("/read/")) void loadReadingPage();
// The dashboard carries Chart.js: its own chunk, fetched only when a dashboard URL is opened.
const DashboardPage = lazy(() => import("./pages/DashboardPage").then((m) => ({ default: m.DashboardPage })));
const AdjudicationPage = lazy(() => import("./pages/AdjudicationPage").then((m) => ({ default: m.AdjudicationPage })));
const CaseHistoryPage = lazy(() => import("./pages/CaseHistoryPage").then((m) => ({ default: m.CaseHistoryPage })));

// The pages loaded on demand, each in its own chunk.
const LAZY_PAGES = [
  { path: "/read/:id", what: "the reading view", Page: ReadingPage },
  { path: "/dashboard", what: "the dashboard", Page: DashboardPage },
  { path: "/adjudication", what: "the adjudication queue", Page: AdjudicationPage },
  { path: "/cases/:id/history", what: "the history", Page: CaseHistoryPage },
];

/** A lazily loaded page for a signed-in user (anyone else goes to the login page). */
function SignedIn({ me, loading, children }: { me: Me | null; loading: string; children: ReactNode }) {
  if (!me) return <Navigate to="/login" />;
  return <Suspense fallback={<p className="loading">{loading}</p>}>{children}</Suspense>;
}

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [adminOfAProject, setAdminOfAProject] = useState(false);
  const navigate = useNavigate();

  useEffect(() => {
    fetchMe()
      .then(setMe)
      .catch((error) => {
        if (!(error instanceof ApiError)) console.error(error);
        setMe(null);
      });
  }, []);

  useEffect(() => {
    if (me) void loadReadingPage();
  }, [me]);

  useEffect(() => {
    setAdminOfAProject(false);
    if (!me) return;
    fetchMyProjects()
      .then((projects) => setAdminOfAProject(projects.some((p) => p.role === "admin")))
      .catch(() => setAdminOfAProject(false));
  }, [me]);

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
          <nav className="topnav">
            <Link to="/worklist">Worklist</Link>
            {(me.experience === "senior" || me.role === "admin" || adminOfAProject) && (
              <Link to="/adjudication" data-testid="adjudication-link">
                Adjudication
              </Link>
            )}
            {(me.role === "admin" || adminOfAProject) && (
              <Link to="/dashboard" data-testid="dashboard-link">
                Dashboard
              </Link>
            )}
          </nav>
          <span data-testid="current-user">
            {me.username} · {me.experience ?? "—"} {me.role ?? ""}
          </span>
          <button onClick={onLogout}>Log out</button>
        </header>
      )}
      <Routes>
        <Route path="/login" element={me ? <Navigate to="/worklist" /> : <LoginPage onLogin={setMe} />} />
        <Route path="/worklist" element={me ? <WorklistPage me={me} /> : <Navigate to="/login" />} />
        {LAZY_PAGES.map(({ path, what, Page }) => (
          <Route
            key={path}
            path={path}
            element={
              <SignedIn me={me} loading={`Loading ${what}…`}>
                <Page />
              </SignedIn>
            }
          />
        ))}
        <Route path="*" element={<Navigate to={me ? "/worklist" : "/login"} />} />
      </Routes>
    </>
  );
}
