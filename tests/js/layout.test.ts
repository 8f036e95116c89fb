import { describe, expect, it } from "vitest";
import {
  cellAt,
  cellRect,
  clampWindow,
  fitText,
  fullWindow,
  labelIndices,
  labelStep,
  niceTicks,
  panWindow,
  spanLevels,
  wrapText,
  zoomWindow,
} from "../../js/draw/layout";

const plot = { x: 40, y: 30, w: 300, h: 300 };

describe("hit testing", () => {
  it("finds the cell whose centre was drawn there, for every cell", () => {
    const win = fullWindow(12, 12);
    for (let r = 0; r < 12; r++) {
      for (let c = 0; c < 12; c++) {
        const rect = cellRect(plot, win, r, c)!;
        expect(cellAt(plot, win, rect.x + rect.w / 2, rect.y + rect.h / 2)).toEqual({ row: r, col: c });
      }
    }
  });

  it("answers null outside the plot, including the far edges", () => {
    const win = fullWindow(5, 5);
    expect(cellAt(plot, win, 39.9, 100)).toBeNull();
    expect(cellAt(plot, win, 340, 100)).toBeNull();
    expect(cellAt(plot, win, 100, 330)).toBeNull();
    expect(cellAt(plot, win, 339.99, 329.99)).toEqual({ row: 4, col: 4 });
  });

  it("accounts for a zoomed window", () => {
    const win = { row0: 100, col0: 200, rows: 10, cols: 10 };
    expect(cellAt(plot, win, 40 + 15, 30 + 295)).toEqual({ row: 109, col: 200 });
    expect(cellRect(plot, win, 99, 200)).toBeNull();
  });

  it("maps more cells than pixels (N = 2048 in 300 px) without leaving the matrix", () => {
    const win = fullWindow(2048, 2048);
    expect(cellAt(plot, win, 339.999, 329.999)).toEqual({ row: 2047, col: 2047 });
  });
});

describe("labels and ticks", () => {
  it("labels every cell when there is room, else a round step", () => {
    expect(labelStep(20, 13)).toBe(1);
    expect(labelStep(7, 13)).toBe(2);
    expect(labelStep(0.3, 13)).toBe(50);
    expect(labelIndices(3, 20, 5)).toEqual([5, 10, 15, 20]);
  });

  it("keeps labels at least the minimum spacing apart at any size", () => {
    for (const cell of [0.1, 0.7, 3, 9.5, 14]) {
      expect(labelStep(cell, 13) * cell).toBeGreaterThanOrEqual(13);
    }
  });

  it("places round ticks inside the range, at least two where it allows", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(1.3, 2.4, 3)).toEqual([1.5, 2]);
    expect(niceTicks(0, 0.174, 4)).toEqual([0, 0.05, 0.1, 0.15]);
    for (const t of niceTicks(0.0123, 0.987, 6)) expect(t >= 0.0123 && t <= 0.987).toBe(true);
  });

  it("shortens text to fit with an ellipsis, never splitting a character", () => {
    const measure = (s: string) => Array.from(s).length * 10;
    expect(fitText("horse", 50, measure)).toBe("horse");
    expect(fitText("favourite", 50, measure)).toBe("favo…");
    expect(fitText("😀😀😀😀😀😀", 30, measure)).toBe("😀😀…");
  });
});

describe("zoom and pan", () => {
  it("zooms in about the cell under the pointer and keeps it there", () => {
    const win = fullWindow(2048, 2048);
    const anchor = { row: 1500, col: 300 };
    const z = zoomWindow(win, 2048, 2048, 4, anchor);
    expect(z.rows).toBe(512);
    const frac = (anchor.row - win.row0 + 0.5) / win.rows;
    const fracAfter = (anchor.row - z.row0 + 0.5) / z.rows;
    expect(Math.abs(frac - fracAfter)).toBeLessThan(2 / 512);
  });

  it("always moves on a small wheel step and stops at a few cells / the whole matrix", () => {
    expect(zoomWindow(fullWindow(10, 10), 10, 10, 1.02, { row: 5, col: 5 }).rows).toBe(9);
    expect(zoomWindow({ row0: 0, col0: 0, rows: 4, cols: 4 }, 10, 10, 8, { row: 1, col: 1 }).rows).toBe(4);
    expect(zoomWindow(fullWindow(10, 10), 10, 10, 0.5, { row: 5, col: 5 }).rows).toBe(10);
  });

  it("zooms a non-square (cross-attention) matrix keeping its aspect", () => {
    const z = zoomWindow(fullWindow(100, 400), 100, 400, 4, { row: 50, col: 200 });
    expect(z.cols).toBe(100);
    expect(z.rows).toBe(25);
    expect(z.row0).toBeGreaterThanOrEqual(0);
    expect(z.row0 + z.rows).toBeLessThanOrEqual(100);
    const tiny = zoomWindow(fullWindow(6, 30), 6, 30, 1000, { row: 2, col: 10 });
    expect(tiny.rows).toBe(4); // never fewer than 4 cells on the short side
    expect(tiny.cols).toBe(20);
  });

  it("pans by whole cells and never leaves the matrix", () => {
    const win = { row0: 10, col0: 10, rows: 20, cols: 20 };
    expect(panWindow(win, 100, 100, 5, -3)).toEqual({ row0: 15, col0: 7, rows: 20, cols: 20 });
    expect(panWindow(win, 100, 100, -50, 500)).toEqual({ row0: 0, col0: 80, rows: 20, cols: 20 });
    expect(clampWindow({ row0: 5, col0: 5, rows: 200, cols: 200 }, 50, 50)).toEqual(fullWindow(50, 50));
  });
});

describe("span brackets", () => {
  it("stack overlapping spans and share a row between disjoint ones", () => {
    const env = { start: 0, end: 7 };
    const lan = { start: 7, end: 13 };
    const ground = { start: 6, end: 7 };
    expect(spanLevels([env, lan, ground])).toEqual([0, 0, 1]);
    expect(spanLevels([ground, env])).toEqual([0, 1]);
    expect(spanLevels([])).toEqual([]);
  });
});

describe("wrapText", () => {
  const width = (s: string) => s.length; // one unit per character
  it("breaks between words so no line is wider than asked", () => {
    const lines = wrapText("layer 0, head 1 is not included in this page", 16, width);
    expect(lines).toEqual(["layer 0, head 1", "is not included", "in this page"]);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(16);
  });
  it("keeps a word longer than a line whole, on its own line", () => {
    expect(wrapText("see w.to_html(path,heads=[...]) now", 10, width)).toEqual(["see", "w.to_html(path,heads=[...])", "now"]);
  });
  it("gives nothing for blank text", () => {
    expect(wrapText("   ", 10, width)).toEqual([]);
  });
});
