import { describe, expect, it } from "vitest";
import { ColorScale } from "../../js/draw/colormap";
import { rasterizeTile } from "../../js/draw/raster";
import { poolWindow } from "../../js/tiles/lod";

describe("rasterising a tile", () => {
  it("draws one pixel per block in the scale's colours", () => {
    const scale = new ColorScale(0, 1);
    const data = rasterizeTile([0, 1, 0.5, 0], 2, 2, scale);
    const pixel = (i: number) => Array.from(data.slice(4 * i, 4 * i + 4));
    expect(pixel(0)).toEqual([...scale.lut.slice(0, 3), 255]);
    expect(pixel(1)).toEqual([...scale.lut.slice(4 * 255, 4 * 255 + 3), 255]);
  });

  it("keeps a single sharp peak when 2048 x 2048 cells pool into 8 x 8 blocks", () => {
    const n = 2048;
    const values = new Float32Array(n * n).fill(0.0001);
    const codes = new Uint16Array(n * n).fill(7);
    values[1234 * n + 777] = 0.9;
    codes[1234 * n + 777] = 99;
    const t = poolWindow(values, codes, n, [0, n, 0, n], 8, 8, false);
    expect([t.rows, t.cols]).toEqual([256, 256]);
    const o = Math.floor(1234 / 8) * 256 + Math.floor(777 / 8);
    expect(t.values[o]).toBeCloseTo(0.9);
    expect(t.codes[o]).toBe(99); // the code (exact text) of the winning cell travels with it
    expect(t.where![o]).toBe((1234 % 8) * 8 + (777 % 8)); // where it sits inside its block
    expect(Math.max(...t.values)).toBeCloseTo(0.9);
  });

  it("pools a window by magnitude when signed, keeping the sign", () => {
    const values = [0.1, -0.9, 0.2, 0.3, 0.5, 0.4, -0.1, 0.0, 0.7];
    const t = poolWindow(
      values,
      values.map((_, i) => i),
      3,
      [0, 3, 0, 3],
      2,
      2,
      true,
    );
    expect([t.rows, t.cols]).toEqual([2, 2]);
    expect(Array.from(t.values)).toEqual(Array.from(Float32Array.from([-0.9, 0.4, -0.1, 0.7])));
    expect(Array.from(t.where!)).toEqual([1, 2, 0, 0]);
  });
});
