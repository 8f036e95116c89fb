import { describe, expect, it } from "vitest";
import {
  ColorScale,
  extentScale,
  LUT_SIZE,
  luminance,
  magnitudeScale,
  parseColor,
  viridis,
  zeroBasedScale,
} from "../../js/draw/colormap";

describe("colour scale", () => {
  it("is viridis: dark purple at 0, yellow at 1, brighter all the way", () => {
    const lut = viridis();
    expect(Array.from(lut.slice(0, 3))).toEqual(parseColor("#440154"));
    expect(Array.from(lut.slice(4 * (LUT_SIZE - 1), 4 * LUT_SIZE - 1))).toEqual(parseColor("#fde725"));
    let last = -1;
    for (let i = 0; i < LUT_SIZE; i++) {
      const l = luminance(lut[4 * i], lut[4 * i + 1], lut[4 * i + 2]);
      expect(l).toBeGreaterThan(last - 1e-3); // perceptual ramp: monotone lightness
      last = l;
    }
  });

  it("maps values linearly and clamps outside the range", () => {
    const s = new ColorScale(0, 2);
    expect(s.index(0)).toBe(0);
    expect(s.index(-5)).toBe(0);
    expect(s.index(2)).toBe(LUT_SIZE - 1);
    expect(s.index(9)).toBe(LUT_SIZE - 1);
    expect(s.index(1)).toBe(LUT_SIZE / 2);
    expect(s.index(Number.NaN)).toBe(0);
  });

  it("puts dark text on light cells and light text on dark ones", () => {
    const s = new ColorScale(0, 1);
    expect(s.textColor(1)).toBe("#000");
    expect(s.textColor(0)).toBe("#fff");
  });

  it("scales attention from zero to the head's maximum, scores over their extent", () => {
    expect(zeroBasedScale([0.1, 0.3, 0.2]).hi).toBeCloseTo(0.3);
    expect(zeroBasedScale([0, 0]).hi).toBe(1);
  });

  it("colours signed saliency by magnitude: -x and x get the same colour, 0 the lowest", () => {
    const s = magnitudeScale([-0.3, 0.1, 0.2]);
    expect([s.lo, s.hi]).toEqual([0, 0.3]);
    expect(s.index(-0.3)).toBe(LUT_SIZE - 1);
    expect(s.index(-0.1)).toBe(s.index(0.1));
    expect(s.index(0)).toBe(0);
    const e = extentScale([1.5, 2.5, Infinity, 2]);
    expect([e.lo, e.hi]).toEqual([1.5, 2.5]);
    const flat = extentScale([3, 3]);
    expect(flat.hi).toBeGreaterThan(flat.lo);
  });
});
