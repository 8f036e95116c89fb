// Where the token search's matches are drawn (token_search.ts finds them): a bar in the heatmap's
// label margins beside each matching query and key, a line above each matching cell of the word
// strip and a tick above the track. The match Enter went to last is drawn wider.
import type { Theme } from "../draw/canvas";
import type { Frame } from "./heatmap_paint";
import type { Matches } from "./token_search";
import { visibleRange } from "./token_search";

const BAR = 3; // px: a match's bar
const CURRENT = 5; // px: the current match's (reaching 2 px under the labels)

/** Bars in the heatmap's margins, between the labels and the plot, for the matches in the window. */
export function drawAxisMatches(ctx: CanvasRenderingContext2D, theme: Theme, { plot, win }: Frame, m: Matches): void {
  if (m.cols.length === 0 && m.rows.length === 0) return;
  const current = m.current >= 0 ? m.cols[m.current] : -1;
  ctx.save();
  ctx.fillStyle = theme.match;
  const cellH = plot.h / win.rows;
  const [r0, r1] = visibleRange(m.rows, win.row0, win.rows);
  for (let i = r0; i < r1; i++) {
    const q = m.rows[i];
    const w = q === current && m.rows === m.cols ? CURRENT : BAR;
    ctx.fillRect(plot.x - w - 1, plot.y + (q - win.row0) * cellH, w, Math.max(2, cellH));
  }
  const cellW = plot.w / win.cols;
  const [c0, c1] = visibleRange(m.cols, win.col0, win.cols);
  for (let i = c0; i < c1; i++) {
    const k = m.cols[i];
    const h = k === current ? CURRENT : BAR;
    ctx.fillRect(plot.x + (k - win.col0) * cellW, plot.y - h - 1, Math.max(2, cellW), h);
  }
  ctx.restore();
}

/** A tick above the track (x from `x0`, `width` px for `count` keys from `col0`) per match. */
export function drawTrackMatches(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  m: Matches,
  track: { x: number; y: number; w: number; col0: number; count: number },
): void {
  const [a, b] = visibleRange(m.cols, track.col0, track.count);
  if (a === b) return;
  const current = m.current >= 0 ? m.cols[m.current] : -1;
  const cellW = track.w / track.count;
  ctx.save();
  ctx.fillStyle = theme.match;
  for (let i = a; i < b; i++) {
    const k = m.cols[i];
    const h = k === current ? CURRENT : BAR + 1;
    ctx.fillRect(track.x + (k - track.col0) * cellW, track.y - h, Math.max(2, cellW), h);
  }
  ctx.restore();
}

/** A line along the top of each matching cell of the word strip (`at(j)`: the cell's box). */
export function drawStripMatches(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  m: Matches,
  at: (j: number) => { x: number; y: number; w: number },
): void {
  const current = m.current >= 0 ? m.cols[m.current] : -1;
  ctx.save();
  for (const j of m.cols) {
    const r = at(j);
    const h = j === current ? CURRENT : BAR + 1;
    ctx.fillStyle = theme.match;
    ctx.fillRect(r.x + 1, r.y + 1, r.w - 2, h);
    ctx.fillStyle = theme.outlineContrast; // a light edge keeps the bar apart from dark cells
    ctx.fillRect(r.x + 1, r.y + 1 + h, r.w - 2, 1);
  }
  ctx.restore();
}
