// The reading view: CT and MR side by side, sagittal views with the levels marked, and the panel
// where the reader grades each level. The whole flow works from the keyboard (? lists the keys).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";

import { ApiError } from "../api";
import type { Box } from "../cornerstone/viewer";
import { HelpOverlay } from "../reading/HelpOverlay";
import { LevelPanel } from "../reading/LevelPanel";
import { CaseDetail, Display, MeasureName, Point3, fetchCase, submitCase } from "../reading/readingApi";
import { startTimings, stamp } from "../reading/timings";
import { draftsFrom, useLevelDrafts } from "../reading/useLevelDrafts";
import { movedAlongNormal, type PlacedLevels, saveLevelPosition, STEP_MM } from "../reading/levelPositions";
import { levelIndex, useReadingViewer } from "../reading/useReadingViewer";

export function ReadingPage() {
  const caseId = Number(useParams().id);
  const [detail, setDetail] = useState<CaseDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    startTimings(caseId);
    setDetail(null);
    setError(null);
    fetchCase(caseId)
      .then((found) => {
        if (cancelled) return;
        stamp(caseId, "caseLoaded");
        setDetail(found);
      })
      .catch((caught) => !cancelled && setError(caught instanceof Error ? caught.message : String(caught)));
    return () => {
      cancelled = true;
    };
  }, [caseId]);

  if (error)
    return (
      <main className="reading-error">
        <p role="alert" className="error">
          {error}
        </p>
        <a href="/worklist">Back to the worklist</a>
      </main>
    );
  if (!detail) return <p className="loading">Loading case {caseId}…</p>;
  return <ReadingWorkspace key={detail.id} detail={detail} />;
}

/** Seconds the page was open and visible (a hidden tab does not count). */
function useVisibleTime() {
  const clock = useRef({ since: performance.now() as number | null, total: 0 });
  useEffect(() => {
    const onVisibility = () => {
      const c = clock.current;
      if (document.hidden && c.since !== null) {
        c.total += performance.now() - c.since;
        c.since = null;
      } else if (!document.hidden && c.since === null) c.since = performance.now();
    };
    document.addEventListener("visibilitychange", onVisibility);
    return () => document.removeEventListener("visibilitychange", onVisibility);
  }, []);
  return () => (clock.current.total + (clock.current.since === null ? 0 : performance.now() - clock.current.since)) / 1000;
}

function ReadingWorkspace({ detail }: { detail: CaseDetail }) {
  const navigate = useNavigate();
  const levels = detail.levels;
  const readOnly = detail.status === "submitted";
  const [message, setMessage] = useState<{ text: string; kind: "error" | "info" } | null>(null);
  const onMessage = useCallback((text: string, kind: "error" | "info") => setMessage({ text, kind }), []);
  const initialDrafts = useMemo(() => draftsFrom(levels, detail.annotations), [levels, detail.annotations]);
  const [showSuggestions, setShowSuggestions] = useState(true);
  const suggestionByLevel = useMemo(
    () => Object.fromEntries(detail.suggestions.levels.map((s) => [s.level, s])),
    [detail.suggestions.levels],
  );
  const displayOf = (name: string): Display => (!suggestionByLevel[name] ? "no_model" : showSuggestions ? "shown" : "hidden");
  const { drafts, saveState, setGrade, setBox, setMeasurement, setNote, flush } = useLevelDrafts(detail.id, initialDrafts, onMessage, displayOf);
  const firstOpen = Math.max(0, levels.findIndex((l) => initialDrafts[l].grade === null));
  const [current, setCurrent] = useState(firstOpen);
  const [help, setHelp] = useState(false);
  const [discPlane, setDiscPlane] = useState(false); // the CT axial cell: the acquired axial or the disc's plane
  const [submitting, setSubmitting] = useState(false);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const elapsed = useVisibleTime();
  const level = levels[current];

  const overlay = useMemo(
    () => ({
      current,
      labels: levels,
      suggestionBox: suggestionByLevel[level]?.box ?? null,
      readerBox: drafts[level]?.box ?? null,
      showSuggestions,
    }),
    [current, levels, level, suggestionByLevel, drafts, showSuggestions],
  );
  const onBoxDrawn = useCallback(
    (box: Box) => {
      if (readOnly) return;
      void setBox(level, box);
    },
    [level, readOnly, setBox],
  );
  const onLevelDragged = (modality: "CT" | "MR", mm: number) => void moveLevel(modality, mm);
  const [caliperTarget, setCaliperTarget] = useState<MeasureName>("canal_ap");
  const onCaliper = (points: [Point3, Point3]) => {
    if (readOnly) return onMessage("This case is submitted; its measurements can no longer change.", "info");
    void setMeasurement(level, caliperTarget, points);
  };
  const { elements, viewer, slices, status, error } = useReadingViewer(
    detail,
    firstOpen,
    overlay,
    onBoxDrawn,
    onLevelDragged,
    onCaliper,
  );
  useEffect(() => {
    void viewer.current?.setDiscPlaneShown(discPlane);
  }, [discPlane, viewer]);

  // The levels' positions as this reader last saw them (their own corrections included).
  const [placed, setPlaced] = useState<PlacedLevels[]>(detail.level_positions.levels);
  const goTo = useCallback(
    (index: number) => {
      const next = Math.min(levels.length - 1, Math.max(0, index));
      setCurrent(next);
      const p = placed[next];
      if (p) viewer.current?.goToLevel(levelIndex(p));
    },
    [placed, levels.length, viewer],
  );

  /** Move the current level's line (its disc centre along the disc's normal), or place a level the
   * finder could not find at the CT or MR axial image shown now. */
  const moveLevel = async (modality: "CT" | "MR", mm: number) => {
    if (readOnly) return onMessage("This case is submitted; its levels can no longer move.", "info");
    const position = modality === "CT" ? placed[current]?.ct_position : placed[current]?.mr_position;
    const shown = viewer.current?.axialCentre(modality === "CT" ? "ctAxial" : "mrAxial");
    const centre = position ? movedAlongNormal(position, mm) : shown?.centre;
    if (!centre) return onMessage(`No ${modality} image to place ${level} on yet.`, "info");
    try {
      const next = await saveLevelPosition(detail.id, level, { modality, centre, normal: position?.normal ?? shown?.normal });
      setPlaced(next.levels);
      const moved = next.levels[current];
      if (moved) viewer.current?.updateLevel(current, levelIndex(moved));
    } catch (caught) {
      onMessage(caught instanceof ApiError || caught instanceof Error ? caught.message : String(caught), "error");
    }
  };

  const grade = (value: number) => {
    if (readOnly) return onMessage("This case is submitted; its grades can no longer change.", "info");
    setMessage(null);
    void setGrade(level, value);
  };

  const submit = async () => {
    if (readOnly) return onMessage("This case is submitted already.", "info");
    if (submitting) return;
    setSubmitting(true);
    try {
      await flush();
      const missing = levels.filter((l) => drafts[l].grade === null);
      if (missing.length) {
        onMessage(`Grade every level before submitting; missing: ${missing.join(", ")}.`, "error");
        goTo(levels.indexOf(missing[0]));
        return;
      }
      const result = await submitCase(detail.id, Math.round(elapsed() * 10) / 10);
      navigate(result.next_case ? `/read/${result.next_case}` : "/worklist");
    } catch (caught) {
      onMessage(caught instanceof ApiError || caught instanceof Error ? caught.message : String(caught), "error");
    } finally {
      setSubmitting(false);
    }
  };

  const onKey = (event: KeyboardEvent) => {
    const typing = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement;
    if (event.key === "Escape") {
      if (help) setHelp(false);
      else if (typing) (event.target as HTMLElement).blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (help && event.key !== "?") return;
    const v = viewer.current;
    const actions: Record<string, () => void> = {
      ArrowDown: () => goTo(current + 1), j: () => goTo(current + 1),
      ArrowUp: () => goTo(current - 1), k: () => goTo(current - 1),
      ArrowLeft: () => v?.scroll(event.shiftKey ? "mrAxial" : "ctAxial", -1),
      ArrowRight: () => v?.scroll(event.shiftKey ? "mrAxial" : "ctAxial", 1),
      "0": () => grade(0), "1": () => grade(1), "2": () => grade(2), "3": () => grade(3),
      w: () => v?.setPreset("ctBone"), e: () => v?.setPreset("ctSoft"), m: () => v?.setPreset("mrAuto"),
      r: () => v?.resetView(),
      h: () => setShowSuggestions((shown) => !shown),
      "[": () => void moveLevel("CT", STEP_MM), "]": () => void moveLevel("CT", -STEP_MM),
      "{": () => void moveLevel("MR", STEP_MM), "}": () => void moveLevel("MR", -STEP_MM),
      p: () => void moveLevel(event.shiftKey ? "MR" : "CT", 0),
      a: () => takeModelBox(),
      x: () => !readOnly && drafts[level].box && void setBox(level, null),
      n: () => noteRef.current?.focus(),
      o: () => setDiscPlane((shown) => !shown),
      c: () => setCaliperTarget((target) => (target === "canal_ap" ? "body_ap" : "canal_ap")),
      s: () => void submit(),
      "?": () => setHelp((open) => !open),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };
  const keyHandler = useRef(onKey);
  keyHandler.current = onKey;
  useEffect(() => {
    const listener = (event: KeyboardEvent) => keyHandler.current(event);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  function takeModelBox() {
    const box = suggestionByLevel[level]?.box;
    if (readOnly || !box || !showSuggestions) return;
    void setBox(level, box);
  }

  const view = (key: keyof typeof elements, hidden = false) => (
    <div
      className={hidden ? "viewport hidden" : "viewport"}
      ref={elements[key]}
      data-testid={`viewport-${key}`}
      data-slice={slices[key] ?? ""}
      aria-hidden={hidden}
    />
  );
  const cell = (key: keyof typeof elements, title: string) => (
    <figure className="viewport-cell">
      <div className="viewport-wrap">{view(key)}</div>
      <figcaption>
        {title} <span data-testid={`slice-${key}`}>{slices[key] ?? ""}</span>
      </figcaption>
    </figure>
  );
  // The CT axial cell holds the acquired axial and the disc-plane reformat; o switches (both stay
  // laid out, so that Cornerstone keeps their size).
  const ctAxialCell = (
    <figure className="viewport-cell">
      <div className="viewport-wrap">
        {view("ctAxial", discPlane)}
        {view("ctDisc", !discPlane)}
      </div>
      <figcaption>
        {discPlane ? `CT in ${level}'s disc plane (o: acquired axial)` : "CT axial (o: disc plane)"}{" "}
        <span data-testid="slice-ctAxial">{discPlane ? "" : slices.ctAxial ?? ""}</span>
      </figcaption>
    </figure>
  );

  return (
    <main className="reading" data-testid="reading-view" data-case={detail.id} data-status={status}>
      <section className="viewports">
        {ctAxialCell}
        {cell("mrAxial", "MR axial T2")}
        {cell("ctSagittal", "CT sagittal")}
        {cell("mrSagittal", "MR sagittal T2")}
      </section>
      <aside className="reading-panel">
        <div className="case-head">
          <strong>Case {detail.id}</strong> · {readOnly ? "submitted (read only)" : detail.status}
          <span className={`save-state ${saveState}`} data-testid="save-state">
            {saveState === "saving" ? "saving…" : saveState === "saved" ? "saved" : saveState === "error" ? "not saved" : ""}
          </span>
        </div>
        {status === "loading" && <p className="loading-images">Loading images…</p>}
        {placed[current] &&
          (!placed[current].ct_position || (!placed[current].mr_position && placed[current].mr_source === "even")) && (
          <p className="level-unplaced" data-testid="level-unplaced">
            {level} was not found on {placed[current].ct_position ? "MR" : "CT"}:
            scroll to it and press p (Shift+p on MR) to place it there, then [ ] to adjust.
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <LevelPanel
          levels={levels}
          current={current}
          drafts={drafts}
          suggestions={detail.suggestions}
          suggestionByLevel={suggestionByLevel}
          showSuggestions={showSuggestions}
          readOnly={readOnly}
          noteRef={noteRef}
          onLevel={goTo}
          onGrade={grade}
          onNote={(note) => setNote(level, note)}
          onTakeModelBox={takeModelBox}
          onClearBox={() => void setBox(level, null)}
          caliperTarget={caliperTarget}
          onCaliperTarget={setCaliperTarget}
          onClearMeasure={(name) => void setMeasurement(level, name, null)}
        />
        <div className="presets" role="group" aria-label="Window presets">
          <button onClick={() => viewer.current?.setPreset("ctBone")}>CT bone (w)</button>
          <button onClick={() => viewer.current?.setPreset("ctSoft")}>CT soft (e)</button>
          <button onClick={() => viewer.current?.setPreset("mrAuto")}>MR auto (m)</button>
        </div>
        {message && (
          <p className={message.kind === "error" ? "message error" : "message"} role="alert" data-testid="message">
            {message.text}
          </p>
        )}
        <div className="actions">
          <button className="submit" onClick={() => void submit()} disabled={readOnly || submitting} data-testid="submit">
            Submit (s)
          </button>
          <button onClick={() => setHelp(true)}>Shortcuts (?)</button>
        </div>
      </aside>
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </main>
  );
}
