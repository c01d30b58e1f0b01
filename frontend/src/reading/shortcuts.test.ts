import { describe, expect, it } from "vitest";

import { GRADE_NAMES, MOUSE, SHORTCUTS } from "./shortcuts";

/** The keys a row names: "↓ / j" -> ["↓", "j"], "0 1 2 3" -> the four digits, "p / Shift + p" -> ["p", "Shift+p"]. */
const keysOf = (keys: string) =>
  keys.split(" / ").flatMap((alt) => (alt.includes(" + ") ? [alt.replace(/ \+ /g, "+")] : alt.split(" ")));

describe("shortcuts", () => {
  it("every row names its keys and what they do", () => {
    for (const [keys, action] of [...SHORTCUTS, ...MOUSE]) {
      expect(keys.trim()).not.toBe("");
      expect(action.trim()).not.toBe("");
    }
  });

  it("no two rows share keys or an action", () => {
    expect(new Set(SHORTCUTS.map(([keys]) => keys)).size).toBe(SHORTCUTS.length);
    expect(new Set(SHORTCUTS.map(([, action]) => action)).size).toBe(SHORTCUTS.length);
  });

  it("digits are the grades only, one per grade", () => {
    const withDigits = SHORTCUTS.filter(([keys]) => /\d/.test(keys));
    expect(withDigits).toHaveLength(1);
    expect(keysOf(withDigits[0][0])).toEqual(GRADE_NAMES.map((_, grade) => String(grade)));
  });

  it("a single key appears in one row only", () => {
    // Arrows are left out: "Shift + ← / →" is Shift with either arrow, beside the plain arrows' row.
    const keys = SHORTCUTS.flatMap(([k]) => keysOf(k)).filter((k) => !/[←→]/.test(k));
    expect(keys).toContain("Shift+p");
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("names the four grades", () => {
    expect(GRADE_NAMES).toHaveLength(4);
  });
});
