// The heatmap's tooltip: both tokens and, at cell level, the exact value and its rank in the row;
// when a pixel covers a block, the block's ranges and its largest value with where it sits. Only
// numbers from Python's tiles are shown, found in the store at the finest level that is here.
import { rankInRow } from "../draw/layout";
import { describeToken } from "../draw/tooltip";
import type { Tile, TileStore } from "../tiles/tile_store";
import { formatCode } from "../wire/decode";
import type { HeadRef, Window } from "../wire/protocol";
import { TILE_SIDE } from "../wire/protocol";
import type { Quantity } from "../wire/quantities";
import type { Axis } from "../wire/types";

/** What the heatmap shows now, as its tooltip reads it. */
export interface Shown {
  rows: Axis; // queries
  cols: Axis; // keys
  head: HeadRef | null;
  quantity: Quantity;
  aggregate: string; // "mean of 12 heads" when an aggregate is shown, else ""
  block: number; // the block size the window needs now
  targetRow: number; // the saliency target position, or -1
}

interface Found {
  tile: Tile;
  block: [number, number];
  i: number; // the block's row inside the tile
  j: number; // the block's column inside the tile
}

/** The tooltip lines for the cell (q, k) under the pointer. */
export function describeCell(store: TileStore, shown: Shown, q: number, k: number): string[] {
  const { rows, cols, head, quantity, aggregate } = shown;
  const nCols = cols.tokens.length;
  const lines = [`query ${q} ${describeToken(rows, q)}`, `key ${k} ${describeToken(cols, k)}`];
  const name = quantity.cellName;
  const signed = quantity.signed;
  const found = head ? tileAt(store, shown, head, q, k) : null;
  const isCell = !!found && found.block[0] === 1 && found.block[1] === 1;
  if (!found) {
    lines.push(`${name}: loading…`);
  } else if (isCell) {
    const { tile } = found;
    const [q0, , k0] = tile.window;
    const i = (q - q0) * tile.cols + (k - k0);
    const row = fullRow(store, shown, tile.head, q);
    const rank = row
      ? ` · ${signed ? `|·| rank ${rankInRow(Array.from(row, Math.abs), k)}` : `rank ${rankInRow(row, k)}`} of ${nCols} in row`
      : "";
    if (quantity.parts) {
      const [la, lb] = quantity.parts.names;
      const sign = tile.values[i] > 0 ? "+" : "";
      const prefix = aggregate ? `${aggregate}: ` : "";
      lines.push(`${prefix}${lb} − ${la} = ${sign}${formatCode(tile.codes[i])}${rank}`);
      const runs = partValues(store, shown, quantity.parts.quantities, tile.head, q, k);
      lines.push(runs ? `${la} ${runs[0]} · ${lb} ${runs[1]}` : `${la} · ${lb}: loading…`);
    } else {
      const what = aggregate ? `${aggregate}: ${name}` : name;
      lines.push(`${what} ${formatCode(tile.codes[i])}${rank}`);
    }
    if (tile.sink) lines.push(`sink takes ${formatCode(tile.sink[q - q0])} of this row`);
  } else {
    const { tile, i, j } = found;
    const [br, bc] = tile.block;
    const [q0, , k0] = tile.window;
    const a = q0 + i * br;
    const c = k0 + j * bc;
    const a1 = Math.min(rows.tokens.length, a + br) - 1;
    const c1 = Math.min(nCols, c + bc) - 1;
    const o = i * tile.cols + j;
    lines[0] = `queries ${a}–${a1} · keys ${c}–${c1} (a block of ${a1 - a + 1} × ${c1 - c + 1} cells)`;
    lines.length = 1;
    const what = signed ? `largest |${name}|` : `largest ${name}`;
    if (tile.values[o] === 0 && !signed) {
      lines.push(`${what} 0 (every weight in the block is 0)`);
    } else {
      const w = tile.where ? tile.where[o] : 0;
      const wq = a + Math.floor(w / bc);
      const wk = c + (w % bc);
      lines.push(`${what} ${formatCode(tile.codes[o])}`);
      lines.push(`at query ${wq} ${describeToken(rows, wq)}, key ${wk} ${describeToken(cols, wk)}`);
    }
    if (found.block[0] > shown.block) lines.push("finer tiles loading…");
    else lines.push("zoom in for single cells");
  }
  if (q === shown.targetRow) lines.push("▶ the saliency target position");
  if (aggregate && !isCell) lines.push(aggregate);
  return lines;
}

/** The tooltip on a query label while saliency can be recomputed: clicking it moves the target. */
export function describeTargetLabel(rows: Axis, row: number): string[] {
  return [`query ${row} ${describeToken(rows, row)}`, "click: explain the next-token prediction after this token"];
}

/** The weights of a difference's two runs at (q, k), as Python rounded them, once their tiles
 * are here. */
function partValues(
  store: TileStore,
  shown: Shown,
  parts: readonly [string, string],
  head: HeadRef,
  q: number,
  k: number,
): [string, string] | null {
  const out: string[] = [];
  for (const quantity of parts) {
    const found = tileAt(store, shown, { ...head, quantity }, q, k);
    const cell = found && found.block[0] === 1 && found.block[1] === 1;
    if (!found || !cell) return null;
    const [q0, , k0] = found.tile.window;
    out.push(formatCode(found.tile.codes[(q - q0) * found.tile.cols + (k - k0)]));
  }
  return [out[0], out[1]];
}

/** The finest tile here that covers (q, k), at the level shown or coarser. */
function tileAt(store: TileStore, shown: Shown, head: HeadRef, q: number, k: number): Found | null {
  const nRows = shown.rows.tokens.length;
  const nCols = shown.cols.tokens.length;
  for (let b = shown.block; b <= shown.block * 2 ** 20; b *= 2) {
    const span = TILE_SIDE * b;
    const ty = Math.floor(q / span);
    const tx = Math.floor(k / span);
    const window: Window = [ty * span, Math.min(nRows, (ty + 1) * span), tx * span, Math.min(nCols, (tx + 1) * span)];
    const tile = store.get({ head, window, block: [b, b] });
    if (tile) return { tile, block: [b, b], i: Math.floor((q - window[0]) / b), j: Math.floor((k - window[2]) / b) };
    if (span >= nRows && span >= nCols) break;
  }
  return null;
}

/** Row q's exact values when every tile of it is here (ranks need the whole row). */
function fullRow(store: TileStore, shown: Shown, head: HeadRef, q: number): Float32Array | null {
  const nRows = shown.rows.tokens.length;
  const nCols = shown.cols.tokens.length;
  const out = new Float32Array(nCols);
  const ty = Math.floor(q / TILE_SIDE);
  for (let k0 = 0; k0 < nCols; k0 += TILE_SIDE) {
    const window: Window = [ty * TILE_SIDE, Math.min(nRows, (ty + 1) * TILE_SIDE), k0, Math.min(nCols, k0 + TILE_SIDE)];
    const tile = store.get({ head, window, block: [1, 1] });
    if (!tile) return null;
    const r = q - window[0];
    out.set(tile.values.subarray(r * tile.cols, (r + 1) * tile.cols), k0);
  }
  return out;
}
