import { describe, expect, it } from "vitest";

import { discPlaneCamera } from "./discPlane";

const dot = (a: number[], b: number[]) => a.reduce((sum, v, k) => sum + v * b[k], 0);

describe("discPlaneCamera", () => {
  it("looks along the disc's normal through its centre, anterior up", () => {
    const tilt = (20 * Math.PI) / 180; // a lordotic disc: its normal leans anteriorly (-y)
    const normal: [number, number, number] = [0, -Math.sin(tilt), Math.cos(tilt)];
    const camera = discPlaneCamera({ centre: [1, 2, 3], normal }, 100);
    expect(camera.focalPoint).toEqual([1, 2, 3]);
    expect(dot(camera.viewPlaneNormal!, normal)).toBeCloseTo(-1);
    expect(dot(camera.viewUp!, normal)).toBeCloseTo(0, 6);
    expect(camera.viewUp![1]).toBeLessThan(-0.9); // anterior
    const offset = camera.position!.map((v, k) => v - camera.focalPoint![k]);
    expect(Math.hypot(...offset)).toBeCloseTo(100);
    expect(dot(offset, normal)).toBeCloseTo(-100); // below the disc, looking up as an axial does
  });

  it("an axial disc gives the acquired axial's camera", () => {
    const camera = discPlaneCamera({ centre: [0, 0, 0], normal: [0, 0, 1] });
    expect(camera.viewPlaneNormal).toEqual([-0, -0, -1]);
    expect(camera.viewUp).toEqual([0, -1, 0]);
  });
});
