import { describe, expect, it } from "vitest";
import { intentOf, spoken, stepCell, stepHead, stepKey, windowShowing } from "../../js/views/keyboard_nav";

describe("what a key means", () => {
  it("maps the documented keys, Space and both spellings of + and -", () => {
    const keys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown", "Home", "End", "Enter", " ", "Escape"];
    expect(keys.map((key) => intentOf({ key }))).toEqual([
      "up",
      "down",
      "left",
      "right",
      "pageUp",
      "pageDown",
      "home",
      "end",
      "select",
      "select",
      "clear",
    ]);
    expect(["+", "=", "-", "_"].map((key) => intentOf({ key }))).toEqual(["zoomIn", "zoomIn", "zoomOut", "zoomOut"]);
  });

  it("leaves Tab, letters and every Ctrl, Alt or Meta combination to the page", () => {
    expect(intentOf({ key: "Tab" })).toBeNull();
    expect(intentOf({ key: "a" })).toBeNull();
    expect(intentOf({ key: "ArrowDown", ctrlKey: true })).toBeNull();
    expect(intentOf({ key: "Home", metaKey: true })).toBeNull();
    expect(intentOf({ key: "+", altKey: true })).toBeNull();
  });
});

describe("the heatmap's focused cell", () => {
  it("moves one query or key with the arrows and stops at the edges", () => {
    expect(stepCell("down", { row: 3, col: 4 }, 10, 10, 5)).toEqual({ row: 4, col: 4 });
    expect(stepCell("right", { row: 3, col: 4 }, 10, 10, 5)).toEqual({ row: 3, col: 5 });
    expect(stepCell("up", { row: 0, col: 0 }, 10, 10, 5)).toEqual({ row: 0, col: 0 });
    expect(stepCell("right", { row: 9, col: 9 }, 10, 10, 5)).toEqual({ row: 9, col: 9 });
  });

  it("jumps a window of queries with PageUp/PageDown and to the row's ends with Home/End", () => {
    expect(stepCell("pageDown", { row: 3, col: 4 }, 100, 80, 20)).toEqual({ row: 23, col: 4 });
    expect(stepCell("pageUp", { row: 3, col: 4 }, 100, 80, 20)).toEqual({ row: 0, col: 4 });
    expect(stepCell("pageDown", { row: 90, col: 4 }, 100, 80, 20)).toEqual({ row: 99, col: 4 });
    expect(stepCell("home", { row: 3, col: 40 }, 100, 80, 20)).toEqual({ row: 3, col: 0 });
    expect(stepCell("end", { row: 3, col: 4 }, 100, 80, 20)).toEqual({ row: 3, col: 79 });
  });

  it("brings the window to the focus by the least move, its size kept", () => {
    const win = { row0: 10, rows: 20, col0: 10, cols: 20 };
    expect(windowShowing(win, { row: 15, col: 15 }, 100, 100)).toEqual(win);
    expect(windowShowing(win, { row: 30, col: 15 }, 100, 100)).toEqual({ ...win, row0: 11 });
    expect(windowShowing(win, { row: 15, col: 5 }, 100, 100)).toEqual({ ...win, col0: 5 });
    expect(windowShowing(win, { row: 99, col: 99 }, 100, 100)).toEqual({ row0: 80, rows: 20, col0: 80, cols: 20 });
  });
});

describe("the grid's focused head", () => {
  it("walks layers and heads, then the mean row and column drawn after them", () => {
    expect(stepHead("right", { layer: 2, head: 3 }, 6, 4, true)).toEqual({ layer: 2, head: -1 });
    expect(stepHead("right", { layer: 2, head: -1 }, 6, 4, true)).toEqual({ layer: 2, head: -1 });
    expect(stepHead("left", { layer: 2, head: -1 }, 6, 4, true)).toEqual({ layer: 2, head: 3 });
    expect(stepHead("down", { layer: 5, head: 0 }, 6, 4, true)).toEqual({ layer: -1, head: 0 });
    expect(stepHead("up", { layer: -1, head: -1 }, 6, 4, true)).toEqual({ layer: 5, head: -1 });
  });

  it("stops at the last head without aggregates", () => {
    expect(stepHead("right", { layer: 2, head: 3 }, 6, 4, false)).toEqual({ layer: 2, head: 3 });
    expect(stepHead("down", { layer: 5, head: 3 }, 6, 4, false)).toEqual({ layer: 5, head: 3 });
  });

  it("jumps to the first and last layer with PageUp/PageDown, head with Home/End", () => {
    expect(stepHead("pageUp", { layer: 4, head: 2 }, 6, 4, true)).toEqual({ layer: 0, head: 2 });
    expect(stepHead("pageDown", { layer: 1, head: 2 }, 6, 4, false)).toEqual({ layer: 5, head: 2 });
    expect(stepHead("home", { layer: 1, head: 2 }, 6, 4, true)).toEqual({ layer: 1, head: 0 });
    expect(stepHead("end", { layer: 1, head: 2 }, 6, 4, true)).toEqual({ layer: 1, head: -1 });
  });
});

describe("the strip's focused key", () => {
  it("moves by one key, one line of the word strip, or a page, inside the axis", () => {
    expect(stepKey("right", 5, 30, 8, 32)).toBe(6);
    expect(stepKey("down", 5, 30, 8, 32)).toBe(13);
    expect(stepKey("up", 5, 30, 8, 32)).toBe(0);
    expect(stepKey("pageDown", 5, 30, 8, 32)).toBe(29);
    expect(stepKey("home", 17, 30, 8, 32)).toBe(0);
    expect(stepKey("end", 17, 30, 8, 32)).toBe(29);
  });
});

describe("what the live region says", () => {
  it("reads the tooltip's lines as one sentence, without the middle dots", () => {
    expect(spoken(["layer 2 · head 5", "entropy: 1.23"])).toBe("layer 2, head 5, entropy: 1.23");
  });
});
