// How the heatmap paints what it holds, given where it sits (a Frame: the plot rectangle and the
// window of cells in it): tiles as pixels, token labels, span brackets, cell values, the grid
// lines, the selected queries and the hover marks. The view (heatmap.ts) decides what to paint.
import type { Theme } from "../draw/canvas";
import { context2d, font, strokeMark } from "../draw/canvas";
import type { ColorScale } from "../draw/colormap";
import type { Cell, CellWindow, Rect } from "../draw/layout";
import { cellRect, fitText, labelIndices, labelStep } from "../draw/layout";
import { rasterizeTile } from "../draw/raster";
import { svgExtras } from "../draw/svg_hooks";
import type { Tile } from "../tiles/tile_store";
import { formatCode } from "../wire/decode";
import type { Axis, Span } from "../wire/types";

/** Where the heatmap sits: the plot in CSS pixels and the cells shown in it. */
export interface Frame {
  plot: Rect;
  win: CellWindow;
}

export const SPAN_LEVEL_PX = 22; // below the plot: one row of brackets for named key spans
const MIN_VALUE_CELL_PX = 30; // print the weight inside cells at least this big

/** Each tile's blocks as a canvas of one pixel each, made once per tile and colour scale. */
export class TileRasters {
  private readonly rasters = new WeakMap<Tile, { canvas: HTMLCanvasElement; scale: ColorScale }>();

  of(tile: Tile, scale: ColorScale): HTMLCanvasElement {
    let r = this.rasters.get(tile);
    if (!r || r.scale !== scale) {
      const img = rasterizeTile(tile.values, tile.rows, tile.cols, scale);
      const canvas = r?.canvas ?? document.createElement("canvas");
      canvas.width = tile.cols;
      canvas.height = tile.rows;
      context2d(canvas).putImageData(new ImageData(img as Uint8ClampedArray<ArrayBuffer>, tile.cols, tile.rows), 0, 0);
      r = { canvas, scale };
      this.rasters.set(tile, r);
    }
    return r.canvas;
  }
}

/** One tile's blocks as pixels, placed over the cells it covers. Blocks at the matrix's far edge
 * cover fewer cells: the caller's clip trims them. */
export function drawTile(ctx: CanvasRenderingContext2D, { plot, win }: Frame, raster: HTMLCanvasElement, tile: Tile): void {
  const cellW = plot.w / win.cols;
  const cellH = plot.h / win.rows;
  const [q0, , k0] = tile.window;
  const [br, bc] = tile.block;
  const x = plot.x + (k0 - win.col0) * cellW;
  const y = plot.y + (q0 - win.row0) * cellH;
  ctx.drawImage(raster, x, y, tile.cols * bc * cellW, tile.rows * br * cellH);
}

/** What is marked on the plot: the selected cell's row and column, and the saliency target. */
export interface Marks {
  query: number;
  key: number;
  targetRow: number;
}

/** Grid lines, values in cells big enough for them, the selected row and column, and the runs of
 * several selected queries, over the tiles just drawn. */
export function drawOverTiles(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  frame: Frame,
  cellTiles: Tile[],
  scale: ColorScale,
  marks: Marks,
  queries: number[],
): void {
  const { plot, win } = frame;
  const cellW = plot.w / win.cols;
  const cellH = plot.h / win.rows;
  if (Math.min(cellW, cellH) >= 8) drawGrid(ctx, frame);
  if (Math.min(cellW, cellH) >= MIN_VALUE_CELL_PX) {
    for (const tile of cellTiles) drawValues(ctx, theme, frame, tile, scale);
  }
  if (marks.query >= 0) {
    const a = cellRect(plot, win, marks.query, win.col0);
    if (a) strokeMark(ctx, theme, plot.x, a.y, plot.w, a.h, 2);
  }
  drawQueries(ctx, theme, frame, queries);
  if (marks.key >= 0) {
    const a = cellRect(plot, win, win.row0, marks.key);
    if (a) strokeMark(ctx, theme, a.x, plot.y, a.w, plot.h, 2);
  }
}

/** Several selected queries: each run of consecutive rows outlined across the plot, with a bar
 * in the label gutter (where shift-click and shift-drag select them). */
function drawQueries(ctx: CanvasRenderingContext2D, theme: Theme, { plot, win }: Frame, rows: number[]): void {
  if (rows.length === 0) return;
  const { row0, rows: shown } = win;
  const cellH = plot.h / shown;
  for (let i = 0; i < rows.length; ) {
    let j = i;
    while (j + 1 < rows.length && rows[j + 1] === rows[j] + 1) j++;
    const a = Math.max(rows[i], row0);
    const b = Math.min(rows[j], row0 + shown - 1);
    if (a <= b) {
      const y = plot.y + (a - row0) * cellH;
      const h = (b - a + 1) * cellH;
      ctx.fillStyle = theme.outline;
      ctx.fillRect(plot.x - 3, y, 3, h);
      strokeMark(ctx, theme, plot.x, y, plot.w, h, 1.5);
    }
    i = j + 1;
  }
}

function drawGrid(ctx: CanvasRenderingContext2D, { plot, win }: Frame): void {
  const cellW = plot.w / win.cols;
  const cellH = plot.h / win.rows;
  ctx.strokeStyle = "rgba(128,128,128,0.22)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 1; i < win.cols; i++) {
    const o = Math.round(plot.x + i * cellW) + 0.5;
    ctx.moveTo(o, plot.y);
    ctx.lineTo(o, plot.y + plot.h);
  }
  for (let i = 1; i < win.rows; i++) {
    const p = Math.round(plot.y + i * cellH) + 0.5;
    ctx.moveTo(plot.x, p);
    ctx.lineTo(plot.x + plot.w, p);
  }
  ctx.stroke();
}

/** The weight inside each visible cell: one font size (up to 12 px) chosen so a typical weight
 * ("0.0123") fits; a longer text (1.23e-05) is set smaller to fit, and only one that would need
 * under 6 px is left to the tooltip. */
function drawValues(ctx: CanvasRenderingContext2D, theme: Theme, { plot, win }: Frame, tile: Tile, scale: ColorScale): void {
  const [q0, , k0] = tile.window;
  const n = tile.cols;
  const { row0, col0, rows, cols } = win;
  const cellW = plot.w / cols;
  const cellH = plot.h / rows;
  const cell = Math.min(cellW, cellH);
  const room = cell - 3;
  let size = Math.min(12, Math.floor(cell / 2.6));
  ctx.font = font(theme, size);
  const typical = ctx.measureText("0.0123").width;
  if (typical > room) size = Math.floor((size * room) / typical);
  if (size < 6) return; // unreadable: the tooltip has the number
  const base = font(theme, size);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  // Signed saliency spans many decades: print only values within 1/200 of the largest (the
  // rest would read as noise); their exact values stay in the tooltip.
  const floor = scale.magnitude ? scale.hi / 200 : -Infinity;
  const qa = Math.max(row0, q0);
  const qb = Math.min(row0 + rows, q0 + tile.rows);
  const ka = Math.max(col0, k0);
  const kb = Math.min(col0 + cols, k0 + tile.cols);
  for (let q = qa; q < qb; q++) {
    for (let k = ka; k < kb; k++) {
      const i = (q - q0) * n + (k - k0);
      if (Math.abs(tile.values[i]) < floor) continue;
      const text = formatCode(tile.codes[i]);
      ctx.font = base;
      const width = ctx.measureText(text).width;
      if (width > room) {
        const smaller = Math.floor((size * room) / width);
        if (smaller < 6) continue;
        ctx.font = font(theme, smaller);
      }
      ctx.fillStyle = scale.textColor(tile.values[i]);
      ctx.fillText(text, plot.x + (k - col0 + 0.5) * cellW, plot.y + (q - row0 + 0.5) * cellH);
    }
  }
}

/** The query labels (with the saliency target's ▶), the key labels and the axis titles. */
export function drawLabels(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  { plot, win }: Frame,
  axes: { rows: Axis; cols: Axis },
  marks: Marks,
): void {
  const { row0, col0, rows, cols } = win;
  const cellH = plot.h / rows;
  const cellW = plot.w / cols;
  const measure = (s: string) => ctx.measureText(s).width;
  ctx.textBaseline = "middle";
  for (const q of labelIndices(row0, rows, labelStep(cellH, 13))) {
    labelStyle(ctx, theme, axes.rows, q, q === marks.query);
    ctx.textAlign = "right";
    svgExtras(ctx).titleNext?.(axes.rows.tokens[q]);
    ctx.fillText(fitText(axes.rows.tokens[q], plot.x - 22, measure), plot.x - 4, plot.y + (q - row0 + 0.5) * cellH);
  }
  if (marks.targetRow >= row0 && marks.targetRow < row0 + rows) {
    // ▶ marks the position whose next-token prediction the saliency explains
    ctx.fillStyle = theme.generated;
    ctx.font = font(theme, 10);
    ctx.textAlign = "left";
    ctx.fillText("▶", 12, plot.y + (marks.targetRow - row0 + 0.5) * cellH);
  }
  for (const k of labelIndices(col0, cols, labelStep(cellW, 13))) {
    labelStyle(ctx, theme, axes.cols, k, k === marks.key);
    ctx.save();
    ctx.translate(plot.x + (k - col0 + 0.5) * cellW, plot.y - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    svgExtras(ctx).titleNext?.(axes.cols.tokens[k]);
    ctx.fillText(fitText(axes.cols.tokens[k], plot.y - 22, measure), 0, 0);
    ctx.restore();
  }
  ctx.fillStyle = theme.muted;
  ctx.font = font(theme, 11, "600");
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText("key (attended token)", plot.x + plot.w / 2, 2);
  ctx.save();
  ctx.translate(2, plot.y + plot.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("query (attending token)", 0, 0);
  ctx.restore();
}

/** Special tokens in muted italics, generated ones in the accent colour, the selected bold. */
function labelStyle(ctx: CanvasRenderingContext2D, theme: Theme, axis: Axis, i: number, selected: boolean): void {
  const special = axis.special[i];
  ctx.font = font(theme, 11, `${special ? "italic " : ""}${selected ? "700" : ""}`);
  ctx.fillStyle = selected ? theme.outline : axis.generated[i] ? theme.generated : special ? theme.muted : theme.text;
}

/** Brackets under the key axis for each named span, clipped to the visible columns. */
export function drawSpans(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  { plot, win }: Frame,
  spans: Span[],
  levels: number[],
): void {
  const { col0, cols } = win;
  const cellW = plot.w / cols;
  ctx.strokeStyle = theme.text;
  ctx.fillStyle = theme.text;
  ctx.lineWidth = 1;
  ctx.font = font(theme, 10, "600");
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  spans.forEach((span, i) => {
    const y = plot.y + plot.h + 6 + levels[i] * SPAN_LEVEL_PX;
    const a = Math.max(span.start, col0);
    const b = Math.min(span.end, col0 + cols);
    if (a >= b) return;
    const x0 = plot.x + (a - col0) * cellW + 2;
    const x1 = plot.x + (b - col0) * cellW - 2;
    ctx.beginPath();
    ctx.moveTo(x0 + 0.5, y - 4);
    ctx.lineTo(x0 + 0.5, y + 0.5);
    ctx.lineTo(x1 - 0.5, y + 0.5);
    ctx.lineTo(x1 - 0.5, y - 4);
    ctx.stroke();
    ctx.fillText(span.name, (x0 + x1) / 2, y + 3);
  });
}

/** The hover marks on the overlay: the cell outlined, its row and column shaded. */
export function drawHover(ctx: CanvasRenderingContext2D, theme: Theme, { plot, win }: Frame, hover: Cell): void {
  const r = cellRect(plot, win, hover.row, hover.col);
  if (!r) return;
  ctx.strokeStyle = theme.text;
  ctx.globalAlpha = 0.35;
  ctx.lineWidth = 1;
  ctx.strokeRect(plot.x + 0.5, r.y + 0.5, plot.w - 1, Math.max(1, r.h - 1));
  ctx.strokeRect(r.x + 0.5, plot.y + 0.5, Math.max(1, r.w - 1), plot.h - 1);
  ctx.globalAlpha = 1;
  ctx.lineWidth = 2;
  ctx.strokeRect(r.x, r.y, Math.max(2, r.w), Math.max(2, r.h));
}
