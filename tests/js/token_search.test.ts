import { describe, expect, it } from "vitest";
import { countText, firstAtOrAfter, MATCH_CELLS, matchWindow, TokenSearch, tokenMatches } from "../../js/views/token_search";
import type { Axis } from "../../js/wire/types";

const axis = (tokens: string[]): Axis => ({ tokens, special: [], generated: [] });

describe("which tokens match", () => {
  it("is a substring of the label with case ignored; spaces count; '' finds nothing", () => {
    const tokens = ["The", " cat", " sat", " on", " the", " mat", "THEN"].map((t) => t.toLowerCase());
    expect(Array.from(tokenMatches(tokens, "the"))).toEqual([0, 4, 6]);
    expect(Array.from(tokenMatches(tokens, "THE"))).toEqual([0, 4, 6]);
    expect(Array.from(tokenMatches(tokens, " the"))).toEqual([4]);
    expect(Array.from(tokenMatches(tokens, "at"))).toEqual([1, 2, 5]);
    expect(Array.from(tokenMatches(tokens, ""))).toEqual([]);
    expect(Array.from(tokenMatches(tokens, "dog"))).toEqual([]);
  });

  it("finds every occurrence in 32,768 tokens", () => {
    const tokens = Array.from({ length: 32768 }, (_, i) => (i % 1000 === 7 ? " Needle" : ` w${i}`));
    const search = new TokenSearch();
    search.setAxes(axis(tokens), axis(tokens));
    const found = search.setText("needle");
    expect(found.cols.length).toBe(33);
    expect(found.cols[0]).toBe(7);
    expect(found.cols[32]).toBe(32007);
  });
});

describe("the box's words", () => {
  it("counts before the first Enter, then says which match", () => {
    const m = { rows: new Int32Array([1, 5]), cols: new Int32Array([1, 5]), current: -1 };
    expect(countText(m, "x")).toBe("2 matches");
    expect(countText({ ...m, current: 1 }, "x")).toBe("2 of 2");
    expect(countText({ ...m, cols: new Int32Array(0) }, "x")).toBe("no match");
    expect(countText(m, "")).toBe("");
    const many = new Int32Array(1234).map((_, i) => i);
    expect(countText({ rows: many, cols: many, current: 2 }, "x")).toBe("3 of 1,234");
  });
});

describe("Enter", () => {
  it("goes to each match in turn, round the end, and Shift+Enter back", () => {
    const tokens = axis(Array.from({ length: 1000 }, (_, i) => (i === 100 || i === 500 || i === 900 ? "hit" : "x")));
    const search = new TokenSearch();
    search.setAxes(tokens, tokens); // self-attention: one axis for rows and columns
    search.setText("hit");
    const full = { row0: 0, rows: 1000, col0: 0, cols: 1000 };
    const centre = (w: { col0: number; cols: number }) => w.col0 + Math.floor(w.cols / 2);
    const first = search.next(1, full);
    expect(first && centre(first)).toBe(100);
    expect(first).toEqual({ row0: 76, rows: MATCH_CELLS, col0: 76, cols: MATCH_CELLS });
    expect(search.summary).toBe("1 of 3");
    expect(centre(search.next(1, full)!)).toBe(500);
    expect(centre(search.next(1, full)!)).toBe(900);
    expect(centre(search.next(1, full)!)).toBe(100); // round the end
    expect(centre(search.next(-1, full)!)).toBe(900);
    expect(search.summary).toBe("3 of 3");
  });

  it("keeps a smaller window's size, keeps the rows of cross-attention, and stays inside the matrix", () => {
    expect(matchWindow({ row0: 0, rows: 10, col0: 0, cols: 10 }, 50, 100, 100, true)).toEqual({
      row0: 45,
      rows: 10,
      col0: 45,
      cols: 10,
    });
    expect(matchWindow({ row0: 3, rows: 7, col0: 0, cols: 500 }, 200, 7, 500, false)).toEqual({
      row0: 0,
      rows: 7,
      col0: 176,
      cols: 48,
    });
    expect(matchWindow({ row0: 0, rows: 100, col0: 0, cols: 100 }, 99, 100, 100, true)).toEqual({
      row0: 52,
      rows: 48,
      col0: 52,
      cols: 48,
    });
  });

  it("finds nothing to go to without a match", () => {
    const search = new TokenSearch();
    search.setAxes(axis(["a"]), axis(["a"]));
    search.setText("b");
    expect(search.next(1, { row0: 0, rows: 1, col0: 0, cols: 1 })).toBeNull();
  });

  it("finds the first position at or after a key by bisection", () => {
    const p = new Int32Array([2, 4, 4, 9]);
    expect([0, 2, 3, 4, 5, 9, 10].map((k) => firstAtOrAfter(p, k))).toEqual([0, 0, 1, 1, 3, 3, 4]);
  });
});
