// Token search on the page: the tokens are here already, so nothing travels but the text typed.
// A token matches when the text, as typed (spaces count), is a substring of the token's label
// with case ignored (both lower-cased); the empty text matches nothing. Python's
// w.search_matches (attn_widget/widget/token_search.py) applies the same rule.
import type { CellWindow } from "../draw/layout";
import { clampWindow } from "../draw/layout";
import type { Axis } from "../wire/types";

/** What the search found: positions on each heatmap axis, ascending, and which key match the
 * last Enter went to (-1: none yet). */
export interface Matches {
  rows: Int32Array; // queries
  cols: Int32Array; // keys: the strip's and the track's positions, and what the box counts
  current: number;
}

export const NO_MATCHES: Matches = { rows: new Int32Array(0), cols: new Int32Array(0), current: -1 };

/** Enter zooms to at most this many cells a side around the match (a smaller window stays). */
export const MATCH_CELLS = 48;

/** The positions of `tokens` (lower-cased already) that contain `text`, case ignored. */
export function tokenMatches(lowered: readonly string[], text: string): Int32Array {
  if (!text) return new Int32Array(0);
  const needle = text.toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < lowered.length; i++) if (lowered[i].includes(needle)) out.push(i);
  return Int32Array.from(out);
}

/** What the search box says: "17 matches" before the first Enter, "3 of 17" after. */
export function countText(m: Matches, text: string): string {
  if (!text) return "";
  const n = m.cols.length;
  if (n === 0) return "no match";
  if (m.current < 0) return n === 1 ? "1 match" : `${n.toLocaleString("en-US")} matches`;
  return `${(m.current + 1).toLocaleString("en-US")} of ${n.toLocaleString("en-US")}`;
}

/** The first index of sorted `positions` at or after `from` (positions.length if none). */
export function firstAtOrAfter(positions: Int32Array, from: number): number {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (positions[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The heatmap's window around key `key` (and query `key` too when both axes are the same
 * tokens), at most MATCH_CELLS a side, otherwise the window's own size. */
export function matchWindow(win: CellWindow, key: number, nRows: number, nCols: number, selfAttention: boolean): CellWindow {
  const cols = Math.min(win.cols, MATCH_CELLS);
  const rows = selfAttention ? Math.min(win.rows, MATCH_CELLS) : win.rows;
  const row0 = selfAttention ? key - Math.floor(rows / 2) : win.row0;
  return clampWindow({ row0, rows, col0: key - Math.floor(cols / 2), cols }, nRows, nCols);
}

/** The search of one widget: its axes lower-cased once (32,768 tokens take a few ms), the text,
 * and the match Enter went to last. */
export class TokenSearch {
  private rowsLow: string[] = [];
  private colsLow: string[] = [];
  private text = "";
  private found: Matches = NO_MATCHES;
  private same = true;

  setAxes(rows: Axis, cols: Axis): void {
    this.same = rows === cols;
    this.colsLow = cols.tokens.map((t) => t.toLowerCase());
    this.rowsLow = this.same ? this.colsLow : rows.tokens.map((t) => t.toLowerCase());
    this.text = "\0"; // find again at the next setText, whatever the text
  }

  /** The matches of `text` (kept, with the current match, while the text stays the same). */
  setText(text: string): Matches {
    if (text === this.text) return this.found;
    this.text = text;
    const cols = tokenMatches(this.colsLow, text);
    const rows = this.same ? cols : tokenMatches(this.rowsLow, text);
    this.found = { rows, cols, current: -1 };
    return this.found;
  }

  get matches(): Matches {
    return this.found;
  }

  get summary(): string {
    return countText(this.found, this.text);
  }

  /** Go to the next match (`step` 1) or the previous one (-1), round the end: the window that
   * shows it, or null when nothing matches. */
  next(step: 1 | -1, win: CellWindow): CellWindow | null {
    const { cols, current } = this.found;
    const n = cols.length;
    if (n === 0) return null;
    const i = current < 0 ? (step > 0 ? 0 : n - 1) : (current + step + n) % n;
    this.found = { ...this.found, current: i };
    return matchWindow(win, cols[i], this.rowsLow.length, this.colsLow.length, this.same);
  }
}

/** Draw-side helper: the matches inside [start, start + count), as indices into `positions`. */
export function visibleRange(positions: Int32Array, start: number, count: number): [number, number] {
  return [firstAtOrAfter(positions, start), firstAtOrAfter(positions, start + count)];
}
