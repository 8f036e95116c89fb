// Where the image tokens sit along a token axis: a thin band beside the heatmap's labels and over
// the track, one stretch per run of consecutive patches, so a picture's thousands of tokens show
// as one block in a long sequence. Read from the axis's patch map (image_wire.ts).
import type { CellWindow, Rect } from "../draw/layout";
import type { Axis, PatchMap } from "../wire/types";

/** The band's colour: an orange that reads on light and dark backgrounds and is no colour of the
 * viridis ramp's dark end or the outline's pink. */
export const IMAGE_BAND_COLOR = "#e69f00";
export const IMAGE_BAND_PX = 3;

const runsOf = new WeakMap<PatchMap, [number, number][]>();

/** The runs [start, end) of consecutive patch tokens on an axis (none for text). */
export function imageRuns(axis: Axis): [number, number][] {
  const map = axis.patches;
  if (!map) return [];
  let runs = runsOf.get(map);
  if (!runs) {
    const tokens = Array.from(map.token).sort((a, b) => a - b);
    runs = [];
    for (const t of tokens) {
      const last = runs[runs.length - 1];
      if (last && t <= last[1]) last[1] = Math.max(last[1], t + 1);
      else runs.push([t, t + 1]);
    }
    runsOf.set(map, runs);
  }
  return runs;
}

/** Bands on the heatmap: left of the query labels (rows), above the key labels (columns), at
 * the outer edge of the margins, clear of the labels and of the plot's own marks. */
export function drawImageBands(
  ctx: CanvasRenderingContext2D,
  { plot, win }: { plot: Rect; win: CellWindow },
  axes: { rows: Axis; cols: Axis },
): void {
  const rowRuns = imageRuns(axes.rows);
  const colRuns = imageRuns(axes.cols);
  if (!rowRuns.length && !colRuns.length) return;
  ctx.save();
  ctx.fillStyle = IMAGE_BAND_COLOR;
  const cellH = plot.h / win.rows;
  for (const [a, b] of clipped(rowRuns, win.row0, win.rows)) {
    ctx.fillRect(14, plot.y + (a - win.row0) * cellH, IMAGE_BAND_PX, Math.max(1, (b - a) * cellH));
  }
  const cellW = plot.w / win.cols;
  for (const [a, b] of clipped(colRuns, win.col0, win.cols)) {
    ctx.fillRect(plot.x + (a - win.col0) * cellW, 15, Math.max(1, (b - a) * cellW), IMAGE_BAND_PX);
  }
  ctx.restore();
}

/** A band along the track's keys [col0, col0 + cols) drawn `w` pixels wide from (x, y). */
export function drawTrackBand(
  ctx: CanvasRenderingContext2D,
  axis: Axis,
  x: number,
  y: number,
  w: number,
  col0: number,
  cols: number,
): void {
  const runs = clipped(imageRuns(axis), col0, cols);
  if (!runs.length) return;
  ctx.save();
  ctx.fillStyle = IMAGE_BAND_COLOR;
  const cellW = w / cols;
  for (const [a, b] of runs) ctx.fillRect(x + (a - col0) * cellW, y, Math.max(1, (b - a) * cellW), IMAGE_BAND_PX);
  ctx.restore();
}

function clipped(runs: [number, number][], start: number, count: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [a, b] of runs) {
    const lo = Math.max(a, start);
    const hi = Math.min(b, start + count);
    if (lo < hi) out.push([lo, hi]);
  }
  return out;
}
