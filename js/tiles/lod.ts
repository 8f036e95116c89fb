// Level of detail, kept pure so it can be unit-tested: which block size a window needs at a given
// plot size, which tiles cover it, and how a head held in the page is cut into the same tiles.
import type { Window } from "../wire/protocol";
import { TILE_SIDE } from "../wire/protocol";

/** The block size (a power of two) at screen resolution: the smallest power of two not below the
 * cells-per-device-pixel of the finer axis, so a view never asks for more blocks than it has
 * pixels. 1 (exact cells) once a cell is at least one pixel. */
export function blockFor(rows: number, cols: number, plotW: number, plotH: number, dpr = 1): number {
  const perPixel = Math.min(rows / Math.max(1, plotH * dpr), cols / Math.max(1, plotW * dpr));
  let b = 1;
  while (b < perPixel) b *= 2;
  return b;
}

/** The tiles of block size `b` (each TILE_SIDE x TILE_SIDE blocks, aligned) that cover rows
 * [row0, row0 + rows) x cols [col0, col0 + cols) of an nRows x nCols matrix. */
export function tilesFor(
  row0: number,
  rows: number,
  col0: number,
  cols: number,
  nRows: number,
  nCols: number,
  b: number,
): Window[] {
  const span = TILE_SIDE * b;
  const out: Window[] = [];
  const lastRow = Math.min(nRows, row0 + rows) - 1;
  const lastCol = Math.min(nCols, col0 + cols) - 1;
  for (let ty = Math.floor(row0 / span); ty <= Math.floor(lastRow / span); ty++) {
    for (let tx = Math.floor(col0 / span); tx <= Math.floor(lastCol / span); tx++) {
      out.push([ty * span, Math.min(nRows, (ty + 1) * span), tx * span, Math.min(nCols, (tx + 1) * span)]);
    }
  }
  return out;
}

/** The block sizes from the coarsest (one tile holds the whole matrix) down to `b`. */
export function coarserBlocks(nRows: number, nCols: number, b: number): number[] {
  let top = 1;
  while (Math.ceil(nRows / top) > TILE_SIDE || Math.ceil(nCols / top) > TILE_SIDE) top *= 2;
  const out: number[] = [];
  for (let s = Math.max(top, b); s >= b; s /= 2) out.push(s);
  return out;
}

/** Block maxima of a window of a row-major matrix (by magnitude when `signed`), with each
 * maximum's offset inside its block (row * bc + col), as the kernel computes them. */
export function poolWindow(
  values: ArrayLike<number>,
  codes: ArrayLike<number>,
  nCols: number,
  win: Window,
  br: number,
  bc: number,
  signed: boolean,
): { rows: number; cols: number; values: Float32Array; codes: Uint16Array; where: Uint32Array | null } {
  const [q0, q1, k0, k1] = win;
  const rows = Math.ceil((q1 - q0) / br);
  const cols = Math.ceil((k1 - k0) / bc);
  const outV = new Float32Array(rows * cols);
  const outC = new Uint16Array(rows * cols);
  const where = br === 1 && bc === 1 ? null : new Uint32Array(rows * cols);
  const best = new Float32Array(rows * cols).fill(-Infinity);
  for (let q = q0; q < q1; q++) {
    const i = Math.floor((q - q0) / br);
    const dr = (q - q0) % br;
    for (let k = k0; k < k1; k++) {
      const j = Math.floor((k - k0) / bc);
      const v = values[q * nCols + k];
      const m = signed ? Math.abs(v) : v;
      const o = i * cols + j;
      if (m > best[o]) {
        best[o] = m;
        outV[o] = v;
        outC[o] = codes[q * nCols + k];
        if (where) where[o] = dr * bc + ((k - k0) % bc);
      }
    }
  }
  return { rows, cols, values: outV, codes: outC, where };
}
