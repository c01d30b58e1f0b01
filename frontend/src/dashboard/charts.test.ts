import { describe, expect, it } from "vitest";

import { PALETTE, dateTimeLabel, timeTick, withAlpha } from "./charts";

describe("chart helpers", () => {
  it("withAlpha turns a hex colour into rgba", () => {
    expect(withAlpha("#63b3ed", 0.15)).toBe("rgba(99, 179, 237, 0.15)");
    expect(withAlpha("#000000", 1)).toBe("rgba(0, 0, 0, 1)");
    for (const colour of PALETTE) expect(colour).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("timeTick shows month-day over long spans, hour:minute within two days", () => {
    const t = Date.UTC(2026, 2, 14, 9, 5);
    expect(timeTick(3 * 86_400_000)(t)).toBe("03-14");
    expect(timeTick(86_400_000)(t)).toBe("09:05");
    expect(timeTick(86_400_000)(String(t))).toBe("09:05");
  });

  it("dateTimeLabel is the UTC minute", () => {
    expect(dateTimeLabel(Date.UTC(2026, 2, 14, 9, 5, 30))).toBe("2026-03-14 09:05");
  });
});
