// Geometry shared by the views, kept pure so it can be unit-tested: which cell is under a point,
// where a cell is drawn, which labels fit, where the ticks go, how zoom and pan move the window.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The visible part of a rows x cols matrix: whole cells, starting at (row0, col0). */
export interface CellWindow {
  row0: number;
  col0: number;
  rows: number;
  cols: number;
}

export interface Cell {
  row: number;
  col: number;
}

export function fullWindow(rows: number, cols: number): CellWindow {
  return { row0: 0, col0: 0, rows, cols };
}

/** The cell under (px, py) in CSS pixels, or null outside the plot. */
export function cellAt(plot: Rect, win: CellWindow, px: number, py: number): Cell | null {
  const fx = (px - plot.x) / plot.w;
  const fy = (py - plot.y) / plot.h;
  if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) return null;
  return {
    row: win.row0 + Math.min(win.rows - 1, Math.floor(fy * win.rows)),
    col: win.col0 + Math.min(win.cols - 1, Math.floor(fx * win.cols)),
  };
}

/** Where a cell is drawn, or null when it is outside the window. */
export function cellRect(plot: Rect, win: CellWindow, row: number, col: number): Rect | null {
  const r = row - win.row0;
  const c = col - win.col0;
  if (r < 0 || c < 0 || r >= win.rows || c >= win.cols) return null;
  const w = plot.w / win.cols;
  const h = plot.h / win.rows;
  return { x: plot.x + c * w, y: plot.y + r * h, w, h };
}

/** Label every k-th cell, k from 1, 2, 5, 10, 20, 50, ... so labels sit >= minPx apart. */
export function labelStep(cellPx: number, minPx: number): number {
  if (cellPx >= minPx) return 1;
  for (let magnitude = 1; ; magnitude *= 10) {
    for (const m of [1, 2, 5]) {
      const k = m * magnitude;
      if (k * cellPx >= minPx) return k;
    }
  }
}

/** The indices in [start, start + count) that get a label at step k (multiples of k). */
export function labelIndices(start: number, count: number, step: number): number[] {
  const out: number[] = [];
  for (let i = Math.ceil(start / step) * step; i < start + count; i += step) out.push(i);
  return out;
}

/** About `target` (at least 2 where the range allows) round tick values inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, target - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  // The largest round step not above the raw one, so there are at least `target - 1` intervals.
  const step = [10, 5, 2.5, 2, 1].map((m) => m * magnitude).find((s) => s <= raw) ?? magnitude;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9) * step;
  for (let t = first; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Zoom a window on an nRows x nCols matrix by `factor` (>1 zooms in) about the cell `anchor`,
 * keeping that cell under the pointer and the matrix's aspect. At least `minCells` stay visible
 * along the shorter side. */
export function zoomWindow(
  win: CellWindow,
  nRows: number,
  nCols: number,
  factor: number,
  anchor: Cell,
  minCells = 4,
): CellWindow {
  // Zoom the longer side, derive the other from the matrix's aspect so cells stay square.
  const long = Math.max(nRows, nCols);
  const shown = nRows >= nCols ? win.rows : win.cols;
  let target = Math.round(shown / factor);
  if (target === shown && factor !== 1) target += factor > 1 ? -1 : 1; // small steps still move
  const minLong = Math.ceil((minCells * long) / Math.min(nRows, nCols));
  const size = Math.max(Math.min(long, minLong), Math.min(long, target));
  if (size === shown) return win;
  const rows = Math.max(1, Math.min(nRows, Math.round((size * nRows) / long)));
  const cols = Math.max(1, Math.min(nCols, Math.round((size * nCols) / long)));
  const fy = (anchor.row - win.row0 + 0.5) / win.rows;
  const fx = (anchor.col - win.col0 + 0.5) / win.cols;
  return clampWindow(
    { row0: Math.round(anchor.row + 0.5 - fy * rows), col0: Math.round(anchor.col + 0.5 - fx * cols), rows, cols },
    nRows,
    nCols,
  );
}

/** Move the window by whole cells, staying inside the matrix. */
export function panWindow(win: CellWindow, nRows: number, nCols: number, dRows: number, dCols: number): CellWindow {
  return clampWindow({ ...win, row0: win.row0 + dRows, col0: win.col0 + dCols }, nRows, nCols);
}

export function clampWindow(win: CellWindow, nRows: number, nCols: number): CellWindow {
  const rows = Math.max(1, Math.min(nRows, win.rows));
  const cols = Math.max(1, Math.min(nCols, win.cols));
  return {
    rows,
    cols,
    row0: Math.max(0, Math.min(nRows - rows, win.row0)),
    col0: Math.max(0, Math.min(nCols - cols, win.col0)),
  };
}

/** Shorten text to fit maxPx, ending in an ellipsis, using the caller's measure. */
export function fitText(text: string, maxPx: number, measure: (s: string) => number): string {
  if (measure(text) <= maxPx) return text;
  const chars = Array.from(text); // whole code points: never split a surrogate pair
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measure(`${chars.slice(0, mid).join("")}…`) <= maxPx) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? "…" : `${chars.slice(0, lo).join("")}…`;
}

/** A row for each span's bracket so that overlapping spans (a word inside a sentence) stack
 * instead of colliding: the lowest row not taken by an earlier span that overlaps it. */
export function spanLevels(spans: { start: number; end: number }[]): number[] {
  const levels: number[] = [];
  spans.forEach((s, i) => {
    const taken = new Set<number>();
    for (let j = 0; j < i; j++) if (spans[j].start < s.end && s.start < spans[j].end) taken.add(levels[j]);
    let level = 0;
    while (taken.has(level)) level++;
    levels.push(level);
  });
  return levels;
}

/** Words of `text` in lines no wider than `width` (a word longer than a line gets its own line). */
export function wrapText(text: string, width: number, measure: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > width) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** 1 + the number of entries in row[] larger than row[j]: the rank of a weight in its row, by the
 * values shown (equal shown values share a rank). */
export function rankInRow(row: ArrayLike<number>, j: number): number {
  const v = row[j];
  let rank = 1;
  for (let i = 0; i < row.length; i++) if (row[i] > v) rank++;
  return rank;
}
