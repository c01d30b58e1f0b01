import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError } from "../api";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  /** The HTTP status of the failed request (403: not an admin). */
  errorStatus: number | null;
  reload: () => void;
}

/** Loads `fetcher()` when its dependencies (or `refresh`) change; `pollMs` re-loads on a timer while set. */
export function useLoad<T>(fetcher: () => Promise<T>, deps: unknown[], pollMs?: number | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [errorStatus, setErrorStatus] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    alive.current = true;
    fetcher()
      .then((value) => {
        if (!alive.current) return;
        setData(value);
        setError(null);
        setErrorStatus(null);
      })
      .catch((caught) => {
        if (!alive.current) return;
        setError(caught instanceof ApiError ? caught.message : "The data cannot be loaded.");
        setErrorStatus(caught instanceof ApiError ? caught.status : null);
      });
    return () => {
      alive.current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  useEffect(() => {
    if (!pollMs) return;
    const timer = window.setInterval(reload, pollMs);
    return () => window.clearInterval(timer);
  }, [pollMs, reload]);

  return { data, error, errorStatus, reload };
}
