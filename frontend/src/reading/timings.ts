// How long the reading view takes, for the benchmark and the curious: window.__readingTimings holds
// performance.now() stamps (ms since navigation start), and each is also a performance mark.
export interface ReadingTimings {
  caseId: number;
  openedAt: number;
  caseLoaded?: number;
  ctFirstImage?: number;
  mrFirstImage?: number;
  allLoaded?: number;
  error?: string;
}

declare global {
  interface Window {
    __readingTimings?: ReadingTimings;
  }
}

export function startTimings(caseId: number): void {
  window.__readingTimings = { caseId, openedAt: performance.now() };
  performance.mark("reading:open");
}

type Stamp = "caseLoaded" | "ctFirstImage" | "mrFirstImage" | "allLoaded";

export function stamp(caseId: number, name: Stamp): void {
  const timings = window.__readingTimings;
  if (!timings || timings.caseId !== caseId || timings[name] !== undefined) return;
  timings[name] = performance.now();
  performance.mark(`reading:${name}`);
}

export function stampError(caseId: number, message: string): void {
  const timings = window.__readingTimings;
  if (timings && timings.caseId === caseId) timings.error ??= message;
}
