// One ReadingViewer per case page: created after Cornerstone's init, destroyed on unmount (also the
// first of React StrictMode's double mount, even while it still loads).
import { useEffect, useRef, useState } from "react";

import { fetchSeriesMetadata } from "../cornerstone/dicomweb";
import { ReadingViewer, type Box, type LevelIndex, type ViewportKey } from "../cornerstone/viewer";
import type { OverlayState } from "../cornerstone/overlay";
import { discLine, type PlacedLevels } from "./levelPositions";
import type { CaseDetail, Point3 } from "./readingApi";
import { stamp, stampError } from "./timings";

export type Slices = Partial<Record<ViewportKey, string>>;

/** Where the viewer shows a level: its stack indices and, where the stack follows the level's
 * position, the disc line of that position (else the line where the level's axial image cuts the
 * view: a champion's box on CT, a disc-aligned MR axial series, which is exact by construction). */
export function levelIndex(placed: PlacedLevels): LevelIndex {
  const { ct_position: ct, mr_position: mr } = placed;
  return {
    ct: placed.ct_index,
    mr: placed.mr_index,
    ctPlane: ct ? { centre: ct.centre, normal: ct.normal } : null,
    ctLine: ct && placed.ct_source === ct.source ? discLine(ct) : null,
    mrLine: mr && placed.mr_source === mr.source ? discLine(mr) : null,
  };
}

export function useReadingViewer(
  detail: CaseDetail,
  initialLevel: number,
  overlay: OverlayState,
  onBoxDrawn: (box: Box) => void,
  onLevelDragged?: (modality: "CT" | "MR", mm: number) => void,
  onCaliper?: (points: [Point3, Point3]) => void,
) {
  const elements = {
    ctAxial: useRef<HTMLDivElement>(null),
    mrAxial: useRef<HTMLDivElement>(null),
    ctSagittal: useRef<HTMLDivElement>(null),
    mrSagittal: useRef<HTMLDivElement>(null),
    ctDisc: useRef<HTMLDivElement>(null),
  };
  const viewer = useRef<ReadingViewer | null>(null);
  const [slices, setSlices] = useState<Slices>({});
  const [status, setStatus] = useState<"loading" | "ready" | "error">("loading");
  const [error, setError] = useState<string | null>(null);
  const latest = useRef({ overlay, onBoxDrawn, onLevelDragged, onCaliper });
  latest.current = { overlay, onBoxDrawn, onLevelDragged, onCaliper };

  useEffect(() => {
    let cancelled = false;
    let created: ReadingViewer | null = null;
    const abort = new AbortController();
    const positions = detail.level_positions;
    const fetchSeries = (study: string, uid: string | null) => {
      if (!uid) return null;
      const fetched = fetchSeriesMetadata(study, uid, abort.signal);
      fetched.catch(() => {}); // reported through load()
      return fetched;
    };
    // the metadata requests go out at once, while Cornerstone starts and the viewports are made
    const series = {
      ctAxial: fetchSeries(detail.ct_study_uid, positions.ct_series_uid),
      mrAxial: fetchSeries(detail.mr_study_uid, positions.mr_axial_series_uid),
      mrSagittal: fetchSeries(detail.mr_study_uid, positions.mr_sagittal_series_uid),
    };
    const found = {
      ctAxial: elements.ctAxial.current!, mrAxial: elements.mrAxial.current!,
      ctSagittal: elements.ctSagittal.current!, mrSagittal: elements.mrSagittal.current!,
      ctDisc: elements.ctDisc.current!,
    };
    const fail = (message: string) => {
      if (cancelled) return;
      stampError(detail.id, message);
      setError(message);
      setStatus("error");
    };
    ReadingViewer.create(found, {
      onFirstImage: (key) => {
        if (key === "ctAxial") stamp(detail.id, "ctFirstImage");
        if (key === "mrAxial") stamp(detail.id, "mrFirstImage");
      },
      onAllLoaded: () => {
        stamp(detail.id, "allLoaded");
        if (!cancelled) setStatus("ready");
      },
      onSlice: (key, index, count) => !cancelled && setSlices((s) => ({ ...s, [key]: `${index + 1}/${count}` })),
      onBoxDrawn: (box) => latest.current.onBoxDrawn(box),
      onLevelDragged: (modality, mm) => latest.current.onLevelDragged?.(modality, mm),
      onCaliper: (points) => latest.current.onCaliper?.(points),
      onError: fail,
    })
      .then((made) => {
        created = made;
        if (cancelled) return made.destroy();
        viewer.current = made;
        made.setOverlay(latest.current.overlay);
        const levels = positions.levels.map(levelIndex);
        return made.load(series, levels, initialLevel);
      })
      .catch((caught) => {
        if (caught?.name === "AbortError") return;
        console.error(caught);
        fail(`The images could not be loaded: ${caught?.message ?? caught}`);
      });
    return () => {
      cancelled = true;
      abort.abort();
      created?.destroy();
      viewer.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [detail]);

  useEffect(() => {
    viewer.current?.setOverlay(overlay);
  }, [overlay]);

  return { elements, viewer, slices, status, error };
}
