import { describe, expect, it } from "vitest";
import { blockFor, coarserBlocks, tilesFor } from "../../js/tiles/lod";

describe("level of detail", () => {
  it("asks for no more blocks than the plot has device pixels", () => {
    expect(blockFor(13, 13, 600, 600)).toBe(1); // cells bigger than pixels: exact
    expect(blockFor(600, 600, 600, 600)).toBe(1); // a cell is one pixel: exact
    expect(blockFor(601, 601, 600, 600)).toBe(2); // just under a pixel: pooled
    expect(blockFor(32768, 32768, 600, 600)).toBe(64); // 54.6 cells a pixel -> 64 (512 blocks)
    expect(blockFor(32768, 32768, 600, 600, 2)).toBe(32); // twice the device pixels
    expect(blockFor(1000, 8000, 600, 600)).toBe(2); // the finer axis decides
  });

  it("covers a window with aligned tiles of 256 blocks", () => {
    expect(tilesFor(0, 32768, 0, 32768, 32768, 32768, 64)).toEqual([
      [0, 16384, 0, 16384],
      [0, 16384, 16384, 32768],
      [16384, 32768, 0, 16384],
      [16384, 32768, 16384, 32768],
    ]);
    expect(tilesFor(300, 10, 250, 20, 1000, 1000, 1)).toEqual([
      [256, 512, 0, 256],
      [256, 512, 256, 512],
    ]);
    expect(tilesFor(0, 13, 0, 13, 13, 13, 1)).toEqual([[0, 13, 0, 13]]);
  });

  it("lists the coarser levels down to the one needed", () => {
    expect(coarserBlocks(32768, 32768, 16)).toEqual([128, 64, 32, 16]);
    expect(coarserBlocks(100, 100, 1)).toEqual([1]);
  });
});
