// The reader's per-level drafts, saved as they change: grade and box at once, the note after a
// pause. Saves of one level run one after another, each with the version the last one returned;
// a 409 (the level changed elsewhere) reloads the level's current values and says so.
import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError } from "../api";
import { Annotation, Box, Display, MeasureName, Measurements, Point3, saveLevel } from "./readingApi";

export interface Draft {
  grade: number | null;
  box: Box | null;
  note: string;
  measurements: Measurements;
  version: number | null;
}

export type SaveState = "idle" | "saving" | "saved" | "error";

type Fields = Partial<Pick<Draft, "grade" | "box" | "note">> & {
  measurements?: Partial<Record<MeasureName, { points: [Point3, Point3] } | null>>;
};

const EMPTY: Draft = { grade: null, box: null, note: "", measurements: {}, version: null };
const NOTE_DELAY_MS = 700;

export function draftsFrom(levels: string[], annotations: Annotation[]): Record<string, Draft> {
  const drafts: Record<string, Draft> = {};
  for (const level of levels) drafts[level] = { ...EMPTY };
  for (const a of annotations) {
    drafts[a.level] = { grade: a.grade, box: a.box, note: a.note, measurements: a.measurements ?? {}, version: a.version };
  }
  return drafts;
}

/** `displayOf(level)`: what the view shows of the level's suggestion now; sent with every save (the
 * server records it when the level is first saved and whenever its grade is set). */
export function useLevelDrafts(
  caseId: number,
  initial: Record<string, Draft>,
  onMessage: (text: string, kind: "error" | "info") => void,
  displayOf: (level: string) => Display,
) {
  const [drafts, setDrafts] = useState(initial);
  const display = useRef(displayOf);
  display.current = displayOf;
  const [saveState, setSaveState] = useState<SaveState>("idle");
  const current = useRef(initial);
  const queues = useRef<Record<string, Promise<void>>>({});
  const noteTimers = useRef<Record<string, number>>({});
  const pending = useRef(0);

  const update = useCallback((level: string, change: Partial<Draft>) => {
    current.current = { ...current.current, [level]: { ...current.current[level], ...change } };
    setDrafts(current.current);
  }, []);

  const save = useCallback(
    (level: string, fields: Fields): Promise<void> => {
      pending.current += 1;
      setSaveState("saving");
      const onScreen = display.current(level); // as the reader saw it now, not when the queue gets to it
      const run = async () => {
        try {
          const version = current.current[level]?.version ?? null;
          const saved = await saveLevel(caseId, level, { ...fields, version, display: onScreen });
          // the server computes a caliper's length: its measurements are the ones to show
          update(level, fields.measurements ? { version: saved.version, measurements: saved.measurements } : { version: saved.version });
          setSaveState("saved");
        } catch (caught) {
          setSaveState("error");
          if (caught instanceof ApiError && caught.status === 409 && caught.code === "stale") {
            const now = caught.detail.current as Draft | undefined;
            if (now) update(level, { grade: now.grade, box: now.box, note: now.note, measurements: now.measurements ?? {}, version: now.version });
            onMessage(`${level} was changed elsewhere (another tab?); your edit was not saved. Its current values are loaded.`, "error");
          } else {
            onMessage(`${level} could not be saved: ${caught instanceof Error ? caught.message : String(caught)}`, "error");
          }
        } finally {
          pending.current -= 1;
        }
      };
      const next = (queues.current[level] ?? Promise.resolve()).then(run);
      queues.current[level] = next;
      return next;
    },
    [caseId, onMessage, update],
  );

  const setGrade = useCallback(
    (level: string, grade: number) => {
      update(level, { grade });
      return save(level, { grade });
    },
    [save, update],
  );

  const setBox = useCallback(
    (level: string, box: Box | null) => {
      update(level, { box });
      return save(level, { box });
    },
    [save, update],
  );

  /** A caliper measure of the level from two points (patient mm), or null to remove it. */
  const setMeasurement = useCallback(
    (level: string, name: MeasureName, points: [Point3, Point3] | null) =>
      save(level, { measurements: { [name]: points ? { points } : null } }),
    [save],
  );

  const setNote = useCallback(
    (level: string, note: string) => {
      update(level, { note });
      window.clearTimeout(noteTimers.current[level]);
      noteTimers.current[level] = window.setTimeout(() => {
        delete noteTimers.current[level];
        void save(level, { note: current.current[level].note });
      }, NOTE_DELAY_MS);
    },
    [save, update],
  );

  /** Saves notes still waiting for their pause and waits for every save in flight. */
  const flush = useCallback(async () => {
    for (const [level, timer] of Object.entries(noteTimers.current)) {
      window.clearTimeout(timer);
      delete noteTimers.current[level];
      void save(level, { note: current.current[level].note });
    }
    await Promise.all(Object.values(queues.current));
  }, [save]);

  useEffect(
    () => () => {
      // leaving the page: notes typed in the last moment are still sent
      for (const [level, timer] of Object.entries(noteTimers.current)) {
        window.clearTimeout(timer);
        const { note, version } = current.current[level];
        void saveLevel(caseId, level, { note, version, display: display.current(level) }).catch(() => {});
      }
    },
    [caseId],
  );

  return { drafts, saveState, setGrade, setBox, setMeasurement, setNote, flush, pending };
}
