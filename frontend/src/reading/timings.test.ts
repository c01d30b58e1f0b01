import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { type ReadingTimings, stamp, stampError, startTimings } from "./timings";

const timings = () => (globalThis as unknown as { window: { __readingTimings?: ReadingTimings } }).window.__readingTimings;

describe("reading timings", () => {
  let now = 0;
  beforeEach(() => {
    vi.stubGlobal("window", {});
    now = 100;
    vi.spyOn(performance, "now").mockImplementation(() => now);
    vi.spyOn(performance, "mark").mockImplementation(() => undefined as unknown as PerformanceMark);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("starts a case's record and marks it", () => {
    startTimings(7);
    expect(timings()).toEqual({ caseId: 7, openedAt: 100 });
    expect(performance.mark).toHaveBeenCalledWith("reading:open");
  });

  it("stamps each moment once, the first time", () => {
    startTimings(7);
    now = 250;
    stamp(7, "caseLoaded");
    now = 900;
    stamp(7, "caseLoaded");
    stamp(7, "allLoaded");
    expect(timings()).toMatchObject({ caseLoaded: 250, allLoaded: 900 });
    expect(performance.mark).toHaveBeenCalledWith("reading:caseLoaded");
    expect(vi.mocked(performance.mark).mock.calls.filter(([name]) => name === "reading:caseLoaded")).toHaveLength(1);
  });

  it("ignores stamps of another case, or before any case", () => {
    stamp(7, "caseLoaded");
    expect(timings()).toBeUndefined();
    startTimings(7);
    stamp(8, "ctFirstImage");
    stampError(8, "boom");
    expect(timings()).toEqual({ caseId: 7, openedAt: 100 });
  });

  it("keeps the first error", () => {
    startTimings(7);
    stampError(7, "first");
    stampError(7, "second");
    expect(timings()?.error).toBe("first");
  });

  it("a new case starts afresh", () => {
    startTimings(7);
    stamp(7, "allLoaded");
    now = 5000;
    startTimings(8);
    expect(timings()).toEqual({ caseId: 8, openedAt: 5000 });
  });
});
