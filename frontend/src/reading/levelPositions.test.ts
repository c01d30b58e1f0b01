import { describe, expect, it } from "vitest";

import { LINE_HALF_MM, type PlacedLevel, discLine, movedAlongNormal } from "./levelPositions";

type P3 = [number, number, number];
const sub = (a: P3, b: P3): P3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: P3, b: P3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: P3, b: P3): P3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: P3) => Math.hypot(...a);

const placed = (centre: P3, normal: P3): PlacedLevel => ({
  level: "C5/6",
  source: "finder",
  centre,
  normal,
  canal: null,
  confidence: 0.9,
  at: "2026-01-01T00:00:00Z",
});

describe("discLine", () => {
  const normals: P3[] = [
    [0, 0, 1],
    [0, 0.6, 0.8],
    [0, -0.6, 0.8],
    [0.2, 0.3, -0.9], // a left-right tilt is not seen in the sagittal plane
    [0, 1, 0],
  ];

  it.each(normals.map((n) => [n] as [P3]))("is perpendicular to the normal %j in the sagittal plane", (normal) => {
    const position = placed([10, -20, 300], normal);
    const { from, to } = discLine(position);
    const along = sub(to as P3, from as P3);
    expect(along[0]).toBe(0); // stays in the sagittal plane through the centre
    expect(dot(along, [0, normal[1], normal[2]])).toBeCloseTo(0, 9);
    expect(norm(along)).toBeCloseTo(2 * LINE_HALF_MM, 9);
  });

  it.each(normals.map((n) => [n] as [P3]))("passes through the centre (normal %j)", (normal) => {
    const centre: P3 = [10, -20, 300];
    const { centre: drawnCentre, from, to } = discLine(placed(centre, normal));
    expect(drawnCentre).toEqual(centre);
    expect(norm(cross(sub(to as P3, centre), sub(from as P3, centre)))).toBeCloseTo(0, 9);
    expect(from[0]).toBe(centre[0]);
    expect(to[0]).toBe(centre[0]);
  });

  it("reaches further back (posterior, +y) than forward: the canal lies behind the disc", () => {
    const centre: P3 = [0, 0, 0];
    const { from, to } = discLine(placed(centre, [0, 0, 1]));
    expect(to[1]).toBeGreaterThan(0);
    expect(from[1]).toBeLessThan(0);
    expect(to[1]).toBeCloseTo(LINE_HALF_MM + LINE_HALF_MM / 3, 9);
    expect(from[1]).toBeCloseTo(-LINE_HALF_MM + LINE_HALF_MM / 3, 9);
  });

  it("points posteriorly whichever way the normal is signed", () => {
    for (const normal of [[0, 0.6, 0.8], [0, -0.6, -0.8]] as P3[]) {
      const { from, to } = discLine(placed([0, 0, 0], normal));
      expect(to[1]).toBeGreaterThan(from[1]);
    }
  });

  it("takes the half length it is given", () => {
    const { from, to } = discLine(placed([0, 0, 0], [0, 0, 1]), 5);
    expect(norm(sub(to as P3, from as P3))).toBeCloseTo(10, 9);
  });
});

describe("movedAlongNormal", () => {
  it("moves by the given mm along the unit normal", () => {
    expect(movedAlongNormal(placed([1, 2, 3], [0, 0, 1]), 1)).toEqual([1, 2, 4]);
    expect(movedAlongNormal(placed([1, 2, 3], [0, 0, 1]), -2.5)).toEqual([1, 2, 0.5]);
  });

  it("normalises the normal first", () => {
    expect(movedAlongNormal(placed([0, 0, 0], [0, 0, 4]), 1)).toEqual([0, 0, 1]);
  });

  it.each([
    [[0, 0.6, 0.8], 1],
    [[0.2, -0.3, 0.9], 3],
    [[1, 1, 1], -2],
  ] as [P3, number][])("moves |mm| along the normal %j (mm = %d)", (normal, mm) => {
    const centre: P3 = [12.5, -40, 310];
    const moved = movedAlongNormal(placed(centre, normal), mm);
    const step = sub(moved, centre);
    expect(norm(step)).toBeCloseTo(Math.abs(mm), 2);
    expect(norm(cross(step, normal))).toBeCloseTo(0, 2);
    expect(Math.sign(dot(step, normal))).toBe(Math.sign(mm));
  });

  it("rounds to a micrometre", () => {
    const moved = movedAlongNormal(placed([0, 0, 0], [1, 1, 1]), 1);
    for (const v of moved) expect(Math.round(v * 1000) / 1000).toBe(v);
  });
});
