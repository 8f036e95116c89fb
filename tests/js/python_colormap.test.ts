// The static picture of a notebook output is drawn in Python (attn_widget/export/colormap.py):
// its viridis table must be the page's, entry for entry, or the PNG and the widget disagree.
/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import source from "../../attn_widget/export/colormap.py?raw"; // read by Vite, as import_layers reads js/
import { ColorScale, LUT_SIZE, viridis } from "../../js/draw/colormap";

const table = /_VIRIDIS_HEX = \(([^)]*)\)/.exec(source)?.[1] ?? "";
const hex = [...table.matchAll(/"([0-9a-f]+)"/g)].map((m) => m[1]).join("");

describe("the Python colour table", () => {
  it("is the page's viridis, every entry", () => {
    expect(hex.length).toBe(6 * LUT_SIZE);
    const lut = viridis();
    for (let i = 0; i < LUT_SIZE; i++) {
      const rgb = [0, 2, 4].map((o) => parseInt(hex.slice(6 * i + o, 6 * i + o + 2), 16));
      expect(rgb).toEqual(Array.from(lut.slice(4 * i, 4 * i + 3)));
    }
  });

  it("is indexed as the page indexes it (the Python test checks lut_indices against these)", () => {
    const scale = new ColorScale(0, 1);
    expect([0, 0.5, 1, Number.NaN, -1, 2, 0.999].map((v) => scale.index(v))).toEqual([0, 128, 255, 0, 0, 255, 255]);
  });
});
