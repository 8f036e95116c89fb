import { describe, expect, it } from "vitest";
import { ColorScale } from "../../js/colormap";
import { fullWindow } from "../../js/layout";
import { poolMax, rasterize } from "../../js/raster";

describe("rasterising a head", () => {
  it("draws one pixel per cell when they fit, in the scale's colours", () => {
    const values = [0, 1, 0.5, 0];
    const scale = new ColorScale(0, 1);
    const r = rasterize(values, 2, fullWindow(2, 2), 100, scale);
    expect([r.width, r.height]).toEqual([2, 2]);
    const pixel = (i: number) => Array.from(r.data.slice(4 * i, 4 * i + 4));
    expect(pixel(0)).toEqual([...scale.lut.slice(0, 3), 255]);
    expect(pixel(1)).toEqual([...scale.lut.slice(4 * 255, 4 * 255 + 3), 255]);
  });

  it("keeps a single sharp peak visible when 2048 cells share 300 pixels", () => {
    const n = 2048;
    const values = new Float32Array(n * n).fill(0.0001);
    values[1234 * n + 777] = 0.9;
    const { width, height, pooled } = poolMax(values, n, fullWindow(n, n), 300);
    expect([width, height]).toEqual([300, 300]);
    const px = Math.floor((1234 * 300) / n) * 300 + Math.floor((777 * 300) / n);
    expect(pooled[px]).toBeCloseTo(0.9);
    expect(Math.max(...pooled)).toBeCloseTo(0.9);
  });

  it("draws only the zoomed window", () => {
    const values = Array.from({ length: 16 }, (_, i) => i);
    const { pooled } = poolMax(values, 4, { row0: 1, col0: 2, rows: 2, cols: 2 }, 10);
    expect(Array.from(pooled)).toEqual([6, 7, 10, 11]);
  });
});
