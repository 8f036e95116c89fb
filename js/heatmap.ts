// The selected head's token x token heatmap: rows = query (the attending token), columns = key
// (the attended token). Labels are thinned so they never overlap, values are printed in cells that
// are big enough, and long inputs zoom (wheel) and pan (drag); double-click resets the view.
// What it draws are tiles (tile_store.ts) at the level of detail the window needs (lod.ts): each
// pixel at most one block, the largest weight of the block; coarser tiles fill in while finer
// ones load, and the tooltip describes the block, or the exact cell, under the pointer.
import type { Theme } from "./canvas";
import { clearCanvas, context2d, font, layeredCanvas, setPlotAttributes, sizeCanvas, strokeMark } from "./canvas";
import { COLORBAR_WIDTH, drawColorbar } from "./colorbar";
import { ColorScale, divergingScale, viridis } from "./colormap";
import { formatCode } from "./decode";
import type { Cell, CellWindow, Rect } from "./layout";
import {
  cellAt,
  cellRect,
  clampWindow,
  fitText,
  fullWindow,
  labelIndices,
  labelStep,
  panWindow,
  spanLevels,
  wrapText,
  zoomWindow,
} from "./layout";
import { blockFor, coarserBlocks, tilesFor } from "./lod";
import type { HeadRef } from "./protocol";
import { TILE_SIDE } from "./protocol";
import { rasterizeTile } from "./raster";
import { svgExtras } from "./svg_context";
import type { Tile, TileSpec, TileStore } from "./tile_store";
import { KERNEL_GONE, rankInRow, SILENCE_MS } from "./tile_store";
import type { Tooltip } from "./tooltip";
import { describeToken } from "./tooltip";
import type { Axis, Span } from "./types";

export interface HeatmapEvents {
  select(query: number, key: number): void;
  windowChanged(win: CellWindow): void;
  /** A query label was clicked while saliency can be recomputed: predict after that token. */
  target(query: number): void;
  /** Shift-click or shift-drag on the query axis or the cells: these queries are selected. */
  queries(rows: number[]): void;
}

const SPAN_LEVEL_PX = 22; // below the plot: one row of brackets for named key spans

const MAX_LABEL_PX = 96;
const MAX_CELL_PX = 56;
const MAX_PLOT_PX = 720;
const MIN_VALUE_CELL_PX = 30; // print the weight inside cells at least this big
/** An SVG export draws one rectangle per cell up to 256 x 256 visible cells, else one image. */
export const MAX_VECTOR_CELLS = 256 * 256;

export class HeatmapView {
  readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private rows: Axis = { tokens: [], special: [], generated: [] }; // queries
  private cols: Axis = { tokens: [], special: [], generated: [] }; // keys
  private head: HeadRef | null = null;
  private scale: ColorScale | null = null;
  private signed = false;
  private status = "";
  private block = 1; // the block size the window needs now
  private needed: TileSpec[] = [];
  private standIn: TileSpec | null = null; // the coarsest tile covering the view, while finer ones travel
  private complete = false; // every needed tile is drawn (else coarser ones stand in)
  private drew = false; // the last draw showed tiles (of any level)
  private query = -1;
  private key = -1;
  private win: CellWindow = fullWindow(0, 0);
  private plot: Rect = { x: 0, y: 0, w: 0, h: 0 };
  private maxWidth = 600;
  private hover: Cell | null = null;
  private readonly rasters = new WeakMap<Tile, { canvas: HTMLCanvasElement; scale: ColorScale }>();
  private drag: { x: number; y: number; win: CellWindow; moved: boolean } | null = null;
  private valueName = "weight"; // tooltip name of the number shown
  private colorbarTitle = "attention weight";
  private spans: Span[] = [];
  private targetRow = -1; // the saliency target position, marked on the query axis
  private targetable = false;
  private compare: [string, string] | null = null; // a comparison's run names: b - a, diverging
  private aggregate = ""; // "mean of 12 heads" when an aggregate is shown
  private queries: number[] = [];
  private spanDrag: { from: number; to: number } | null = null; // shift-drag in progress

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: HeatmapEvents,
    private readonly store: TileStore,
    signal: AbortSignal,
  ) {
    ({ canvas: this.canvas, overlay: this.overlay } = layeredCanvas(
      container,
      "attn-heatmap",
      "token x token attention of the selected head",
    ));
    const opts = { signal };
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.onLeave(), opts);
    this.canvas.addEventListener("pointerdown", (e) => this.onDown(e), opts);
    this.canvas.addEventListener("pointerup", (e) => this.onUp(e), opts);
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { signal, passive: false });
    this.canvas.addEventListener("dblclick", () => this.resetView(), opts);
  }

  /** The query tokens (rows) and key tokens (columns): the same for self-attention. */
  setAxes(rows: Axis, cols: Axis): void {
    if (rows.tokens.length !== this.rows.tokens.length || cols.tokens.length !== this.cols.tokens.length) {
      this.win = fullWindow(rows.tokens.length, cols.tokens.length);
    }
    this.rows = rows;
    this.cols = cols;
  }

  private get nRows(): number {
    return this.rows.tokens.length;
  }

  private get nCols(): number {
    return this.cols.tokens.length;
  }

  /** What the matrix holds: attention weights, or attention x gradient (signed). */
  setQuantity(valueName: string, colorbarTitle: string): void {
    this.valueName = valueName;
    this.colorbarTitle = colorbarTitle;
  }

  setSpans(spans: Span[]): void {
    this.spans = spans;
    this.canvas.dataset.spans = spans.map((s) => `${s.name}:${s.start}-${s.end}`).join(" ");
  }

  /** The saliency target row (-1: none); `targetable`: clicking a query label moves it. */
  setTarget(row: number, targetable: boolean): void {
    this.targetRow = row;
    this.targetable = targetable;
    this.canvas.dataset.target = String(row);
  }

  /** A comparison (b - a on a diverging scale, both runs in the tooltip), or null. */
  setCompare(labels: [string, string] | null): void {
    this.compare = labels;
  }

  /** What an aggregate averages ("mean of 12 heads"), or "" for one head. */
  setAggregate(label: string): void {
    this.aggregate = label;
  }

  /** Several selected queries, marked on the query axis. */
  setQueries(rows: number[]): void {
    this.queries = rows;
    this.canvas.dataset.queries = rows.join(",");
  }

  /** The head to show (its tiles come from the store), or null with a status line. */
  setHead(head: HeadRef | null, signed: boolean, status = ""): void {
    this.head = head;
    this.signed = signed;
    this.status = status;
  }

  /** The tiles the last draw needed (the app asks the store for them). */
  get wanted(): TileSpec[] {
    // Until the level is complete, the one tile that holds the whole view at the coarsest level
    // goes first: a head switch shows a picture after one round trip, finer tiles paint over it.
    const base = this.complete || !this.standIn ? this.needed : [this.standIn, ...this.needed];
    return [...base, ...this.runTiles()];
  }

  /** A comparison at cell level: each run's own tiles too, for the tooltip's two weights. */
  private runTiles(): TileSpec[] {
    if (!this.compare || !this.head || this.head.quantity !== "difference" || this.block !== 1) return [];
    const head = this.head;
    return this.needed.flatMap((spec) => [
      { ...spec, head: { ...head, quantity: "a" } },
      { ...spec, head: { ...head, quantity: "b" } },
    ]);
  }

  /** The tiles another head would need in the window shown (grid hover prefetch). */
  specsFor(head: HeadRef): TileSpec[] {
    const { row0, rows, col0, cols } = this.win;
    return tilesFor(row0, rows, col0, cols, this.nRows, this.nCols, this.block).map((window) => ({
      head,
      window,
      block: [this.block, this.block] as [number, number],
    }));
  }

  get drewTiles(): boolean {
    return this.drew;
  }

  /** True when the last draw had every tile of the level it needs. */
  get exact(): boolean {
    return this.complete;
  }

  /** The colour scale of the head shown: [0, its largest weight] (or |value|), once known. */
  get colorScale(): ColorScale | null {
    return this.scale;
  }

  setSelection(query: number, key: number): void {
    this.query = query;
    this.key = key;
  }

  get window(): CellWindow {
    return this.win;
  }

  resetView(): void {
    this.setWindow(fullWindow(this.nRows, this.nCols));
  }

  /** Show this window (from Python's `window` trait): no event back. */
  showWindow(win: CellWindow): void {
    this.win = clampWindow(win, this.nRows, this.nCols);
  }

  layout(maxWidth: number): void {
    this.maxWidth = Math.max(200, maxWidth);
  }

  private setWindow(win: CellWindow): void {
    const next = clampWindow(win, this.nRows, this.nCols);
    const same =
      next.row0 === this.win.row0 && next.col0 === this.win.col0 && next.rows === this.win.rows && next.cols === this.win.cols;
    if (same) return;
    this.win = next;
    this.draw();
    this.events.windowChanged(next);
  }

  /** The left and top margins: room for the longest visible label (capped) and an axis title. */
  private margins(ctx: CanvasRenderingContext2D, theme: Theme): { left: number; top: number } {
    ctx.font = font(theme, 11);
    const widestOf = (tokens: string[], start: number, count: number) => {
      let widest = 0;
      const stride = Math.max(1, Math.floor(count / 400)); // measuring 4096 labels per frame is waste
      for (let i = start; i < start + count; i += stride) widest = Math.max(widest, ctx.measureText(tokens[i]).width);
      return Math.min(MAX_LABEL_PX, Math.ceil(widest) + 8);
    };
    const { row0, rows, col0, cols } = this.win;
    return { left: 18 + widestOf(this.rows.tokens, row0, rows), top: 18 + widestOf(this.cols.tokens, col0, cols) };
  }

  /** Draw on the view's canvas, or into `target` (an export: the same picture, no overlay;
   * `vector`: an SVG, which gets one rectangle per cell when the window holds few enough). */
  draw(target?: CanvasRenderingContext2D, vector = false): void {
    const nRows = this.nRows;
    const nCols = this.nCols;
    if (nRows === 0 || nCols === 0) return;
    const theme = this.theme();
    const probe = this.canvas.getContext("2d");
    if (!probe) return;
    const { left, top } = this.margins(probe, theme);
    const room = this.maxWidth - left - COLORBAR_WIDTH - 16;
    // Sized for the whole matrix (square cells), so zooming in makes cells bigger rather than the
    // plot smaller; the longer side gets the room.
    const long = Math.max(nRows, nCols);
    const side = Math.max(60, Math.min(MAX_PLOT_PX, room, long * MAX_CELL_PX));
    const w = Math.max(24, (side * nCols) / long);
    const h = Math.max(24, (side * nRows) / long);
    this.plot = { x: left, y: top, w, h };
    const width = left + w + 14 + COLORBAR_WIDTH;
    const levels = spanLevels(this.spans);
    const band = this.spans.length > 0 ? (Math.max(...levels) + 1) * SPAN_LEVEL_PX : 0;
    const height = top + Math.max(h + band, 120) + 10;
    const ctx = target ?? sizeCanvas(this.canvas, width, height);
    if (!target) {
      sizeCanvas(this.overlay, width, height);
      ctx.clearRect(0, 0, width, height);
      setPlotAttributes(this.canvas, this.plot, this.win.rows, this.win.cols);
      this.canvas.dataset.row0 = String(this.win.row0);
      this.canvas.dataset.col0 = String(this.win.col0);
      this.canvas.dataset.window = [
        this.win.row0,
        this.win.row0 + this.win.rows,
        this.win.col0,
        this.win.col0 + this.win.cols,
      ].join(",");
    }
    this.drawLabels(ctx, theme);
    const drawn = this.head ? this.drawTiles(ctx, theme, this.head, vector) : false;
    this.drew = drawn;
    if (!this.head) this.needed = [];
    this.canvas.dataset.complete = String(drawn && this.complete); // every tile the level needs is drawn
    this.canvas.dataset.block = String(this.block);
    if (drawn && this.scale) {
      drawColorbar(ctx, theme, left + w + 14, top, Math.max(h, 120), this.scale, this.colorbarTitle);
    } else {
      ctx.strokeStyle = theme.muted;
      ctx.strokeRect(this.plot.x + 0.5, this.plot.y + 0.5, w - 1, h - 1);
    }
    const failure = this.head && this.needed.length ? this.needed.map((t) => this.store.error(t)).find((e) => e) : undefined;
    const silent = this.store.silentMs >= SILENCE_MS;
    const waiting =
      this.head && !drawn
        ? silent
          ? `no answer from the kernel for ${Math.round(this.store.silentMs / 1000)} s: this head's weights come from Python on request, so it needs a running kernel (rerun the cell)`
          : `loading layer ${this.head.layer}, head ${this.head.head}…`
        : "";
    const status =
      this.status || (failure ? (failure === KERNEL_GONE ? failure : `could not load this view: ${failure}`) : waiting);
    if (!target) this.canvas.dataset.status = status; // what the plot says instead of a picture
    if (status) {
      ctx.fillStyle = theme.text;
      ctx.font = font(theme, 12);
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      const lines = wrapText(status, w - 16, (t) => ctx.measureText(t).width);
      for (const [i, line] of lines.entries()) {
        ctx.fillText(line, this.plot.x + w / 2, this.plot.y + h / 2 + (i - (lines.length - 1) / 2) * 16, w - 8);
      }
    }
    if (band) this.drawSpans(ctx, theme, levels);
    if (!target) this.drawOverlay();
  }

  /** Brackets under the key axis for each named span, clipped to the visible columns. */
  private drawSpans(ctx: CanvasRenderingContext2D, theme: Theme, levels: number[]): void {
    const { col0, cols } = this.win;
    const cellW = this.plot.w / cols;
    ctx.strokeStyle = theme.text;
    ctx.fillStyle = theme.text;
    ctx.lineWidth = 1;
    ctx.font = font(theme, 10, "600");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    this.spans.forEach((span, i) => {
      const y = this.plot.y + this.plot.h + 6 + levels[i] * SPAN_LEVEL_PX;
      const a = Math.max(span.start, col0);
      const b = Math.min(span.end, col0 + cols);
      if (a >= b) return;
      const x0 = this.plot.x + (a - col0) * cellW + 2;
      const x1 = this.plot.x + (b - col0) * cellW - 2;
      ctx.beginPath();
      ctx.moveTo(x0 + 0.5, y - 4);
      ctx.lineTo(x0 + 0.5, y + 0.5);
      ctx.lineTo(x1 - 0.5, y + 0.5);
      ctx.lineTo(x1 - 0.5, y - 4);
      ctx.stroke();
      ctx.fillText(span.name, (x0 + x1) / 2, y + 3);
    });
  }

  /** The tiles that cover the window, coarsest first so finer ones paint over them; returns
   * whether anything was drawn. Records what the level needs in `needed` and `complete`. */
  private drawTiles(ctx: CanvasRenderingContext2D, theme: Theme, head: HeadRef, vector = false): boolean {
    const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
    const { row0, rows, col0, cols } = this.win;
    this.block = blockFor(rows, cols, this.plot.w, this.plot.h, dpr);
    const levels = coarserBlocks(this.nRows, this.nCols, this.block);
    const specs = (b: number) =>
      tilesFor(row0, rows, col0, cols, this.nRows, this.nCols, b).map((window) => ({
        head,
        window,
        block: [b, b] as [number, number],
      }));
    this.needed = specs(this.block);
    const top = specs(levels[0]);
    this.standIn = levels[0] !== this.block && top.length === 1 ? top[0] : null;
    const byLevel = levels.map((b) =>
      (b === this.block ? this.needed : specs(b)).map((spec) => this.store.get(spec)).filter((t): t is Tile => !!t),
    );
    const range = this.store.range(head); // known once any tile of the head is here
    const diverging = !!this.compare && head.quantity === "difference";
    const stale =
      !this.scale ||
      this.scale.hi !== (range && range[1] > 0 ? range[1] : 1) ||
      this.scale.magnitude !== (this.signed && !diverging) ||
      this.scale.lo < 0 !== diverging;
    if (range && stale) {
      this.scale = diverging ? divergingScale(range[1]) : new ColorScale(0, range[1] > 0 ? range[1] : 1, viridis(), this.signed);
    } else if (!range) {
      this.scale = null;
    }
    const cellW = this.plot.w / cols;
    const cellH = this.plot.h / rows;
    let drawn = false;
    const finest = byLevel[byLevel.length - 1] ?? [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.plot.x, this.plot.y, this.plot.w, this.plot.h);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    this.complete = finest.length === this.needed.length && this.needed.length > 0;
    if (vector && this.scale && this.complete && this.block === 1 && rows * cols <= MAX_VECTOR_CELLS) {
      this.drawCellRects(ctx, finest, this.scale, cellW, cellH);
      drawn = true;
    } else if (vector && this.scale && byLevel.some((here) => here.length)) {
      this.drawAsOneImage(ctx, byLevel, this.scale);
      drawn = true;
    } else {
      for (const here of byLevel) {
        if (here.length && this.scale) {
          for (const tile of here) this.drawTile(ctx, tile, this.scale, cellW, cellH);
          drawn = true;
        }
      }
    }
    ctx.restore();
    if (!drawn || !this.scale) return false;
    if (Math.min(cellW, cellH) >= 8) this.drawGrid(ctx, cellW, cellH);
    if (Math.min(cellW, cellH) >= MIN_VALUE_CELL_PX && this.block === 1) {
      for (const tile of finest) this.drawValues(ctx, theme, tile, this.scale, cellW, cellH);
    }
    if (this.query >= 0) {
      const a = cellRect(this.plot, this.win, this.query, col0);
      if (a) strokeMark(ctx, theme, this.plot.x, a.y, this.plot.w, a.h, 2);
    }
    this.drawQueries(ctx, theme, this.spanDrag ? spanOf(this.spanDrag) : this.queries);
    if (this.key >= 0) {
      const a = cellRect(this.plot, this.win, row0, this.key);
      if (a) strokeMark(ctx, theme, a.x, this.plot.y, a.w, this.plot.h, 2);
    }
    return true;
  }

  /** Several selected queries: each run of consecutive rows outlined across the plot, with a bar
   * in the label gutter (where shift-click and shift-drag select them). */
  private drawQueries(ctx: CanvasRenderingContext2D, theme: Theme, rows: number[]): void {
    if (rows.length === 0) return;
    const { row0, rows: shown } = this.win;
    const cellH = this.plot.h / shown;
    for (let i = 0; i < rows.length; ) {
      let j = i;
      while (j + 1 < rows.length && rows[j + 1] === rows[j] + 1) j++;
      const a = Math.max(rows[i], row0);
      const b = Math.min(rows[j], row0 + shown - 1);
      if (a <= b) {
        const y = this.plot.y + (a - row0) * cellH;
        const h = (b - a + 1) * cellH;
        ctx.fillStyle = theme.outline;
        ctx.fillRect(this.plot.x - 3, y, 3, h);
        strokeMark(ctx, theme, this.plot.x, y, this.plot.w, h, 1.5);
      }
      i = j + 1;
    }
  }

  /** One tile's blocks as pixels (rasterized once per tile and colour scale), placed over the
   * cells it covers. Blocks at the matrix's far edge cover fewer cells: the clip trims them. */
  private drawTile(ctx: CanvasRenderingContext2D, tile: Tile, scale: ColorScale, cellW: number, cellH: number): void {
    const [q0, , k0] = tile.window;
    const [br, bc] = tile.block;
    const x = this.plot.x + (k0 - this.win.col0) * cellW;
    const y = this.plot.y + (q0 - this.win.row0) * cellH;
    ctx.drawImage(this.rasterOf(tile, scale), x, y, tile.cols * bc * cellW, tile.rows * br * cellH);
  }

  /** The tile's blocks as a canvas of one pixel each (made once per tile and colour scale). */
  private rasterOf(tile: Tile, scale: ColorScale): HTMLCanvasElement {
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

  /** SVG export: one rectangle per visible cell, filled with the colour scale's colour. */
  private drawCellRects(ctx: CanvasRenderingContext2D, tiles: Tile[], scale: ColorScale, cellW: number, cellH: number): void {
    const { row0, rows, col0, cols } = this.win;
    const group = svgExtras(ctx); // named, so readers and tests find the cells
    group.beginGroup?.("heatmap-cells");
    for (const tile of tiles) {
      const [q0, , k0] = tile.window;
      for (let q = Math.max(row0, q0); q < Math.min(row0 + rows, q0 + tile.rows); q++) {
        for (let k = Math.max(col0, k0); k < Math.min(col0 + cols, k0 + tile.cols); k++) {
          ctx.fillStyle = scale.css(tile.values[(q - q0) * tile.cols + (k - k0)]);
          ctx.fillRect(this.plot.x + (k - col0) * cellW, this.plot.y + (q - row0) * cellH, cellW, cellH);
        }
      }
    }
    group.endGroup?.();
  }

  /** SVG export above MAX_VECTOR_CELLS (or while finer tiles travel): the window as one image,
   * one pixel per block of the finest level shown, coarser stand-ins painted under it. */
  private drawAsOneImage(ctx: CanvasRenderingContext2D, byLevel: Tile[][], scale: ColorScale): void {
    const { row0, rows, col0, cols } = this.win;
    const b = this.block;
    const image = document.createElement("canvas");
    image.width = Math.max(1, Math.ceil(cols / b));
    image.height = Math.max(1, Math.ceil(rows / b));
    const px = context2d(image);
    px.imageSmoothingEnabled = false;
    for (const here of byLevel) {
      for (const tile of here) {
        const raster = this.rasterOf(tile, scale);
        const [q0, , k0] = tile.window;
        px.drawImage(raster, (k0 - col0) / b, (q0 - row0) / b, (tile.cols * tile.block[1]) / b, (tile.rows * tile.block[0]) / b);
      }
    }
    ctx.drawImage(
      image,
      this.plot.x,
      this.plot.y,
      (image.width * b * this.plot.w) / cols,
      (image.height * b * this.plot.h) / rows,
    );
  }

  private drawGrid(ctx: CanvasRenderingContext2D, cellW: number, cellH: number): void {
    ctx.strokeStyle = "rgba(128,128,128,0.22)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 1; i < this.win.cols; i++) {
      const o = Math.round(this.plot.x + i * cellW) + 0.5;
      ctx.moveTo(o, this.plot.y);
      ctx.lineTo(o, this.plot.y + this.plot.h);
    }
    for (let i = 1; i < this.win.rows; i++) {
      const p = Math.round(this.plot.y + i * cellH) + 0.5;
      ctx.moveTo(this.plot.x, p);
      ctx.lineTo(this.plot.x + this.plot.w, p);
    }
    ctx.stroke();
  }

  /** The weight inside each visible cell: one font size (up to 12 px) chosen so a typical weight
   * ("0.0123") fits; a longer text (1.23e-05) is set smaller to fit, and only one that would need
   * under 6 px is left to the tooltip. */
  private drawValues(
    ctx: CanvasRenderingContext2D,
    theme: Theme,
    tile: Tile,
    scale: ColorScale,
    cellW: number,
    cellH: number,
  ): void {
    const [q0, , k0] = tile.window;
    const n = tile.cols;
    const { row0, col0, rows, cols } = this.win;
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
        ctx.fillText(text, this.plot.x + (k - col0 + 0.5) * cellW, this.plot.y + (q - row0 + 0.5) * cellH);
      }
    }
  }

  private drawLabels(ctx: CanvasRenderingContext2D, theme: Theme): void {
    const { row0, col0, rows, cols } = this.win;
    const cellH = this.plot.h / rows;
    const cellW = this.plot.w / cols;
    const measure = (s: string) => ctx.measureText(s).width;
    ctx.textBaseline = "middle";
    for (const q of labelIndices(row0, rows, labelStep(cellH, 13))) {
      this.labelStyle(ctx, theme, this.rows, q, q === this.query);
      ctx.textAlign = "right";
      svgExtras(ctx).titleNext?.(this.rows.tokens[q]);
      ctx.fillText(
        fitText(this.rows.tokens[q], this.plot.x - 22, measure),
        this.plot.x - 4,
        this.plot.y + (q - row0 + 0.5) * cellH,
      );
    }
    if (this.targetRow >= row0 && this.targetRow < row0 + rows) {
      // ▶ marks the position whose next-token prediction the saliency explains
      ctx.fillStyle = theme.generated;
      ctx.font = font(theme, 10);
      ctx.textAlign = "left";
      ctx.fillText("▶", 12, this.plot.y + (this.targetRow - row0 + 0.5) * cellH);
    }
    for (const k of labelIndices(col0, cols, labelStep(cellW, 13))) {
      this.labelStyle(ctx, theme, this.cols, k, k === this.key);
      ctx.save();
      ctx.translate(this.plot.x + (k - col0 + 0.5) * cellW, this.plot.y - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      svgExtras(ctx).titleNext?.(this.cols.tokens[k]);
      ctx.fillText(fitText(this.cols.tokens[k], this.plot.y - 22, measure), 0, 0);
      ctx.restore();
    }
    ctx.fillStyle = theme.muted;
    ctx.font = font(theme, 11, "600");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText("key (attended token)", this.plot.x + this.plot.w / 2, 2);
    ctx.save();
    ctx.translate(2, this.plot.y + this.plot.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("query (attending token)", 0, 0);
    ctx.restore();
  }

  /** Special tokens in muted italics, generated ones in the accent colour, the selected bold. */
  private labelStyle(ctx: CanvasRenderingContext2D, theme: Theme, axis: Axis, i: number, selected: boolean): void {
    const special = axis.special[i];
    ctx.font = font(theme, 11, `${special ? "italic " : ""}${selected ? "700" : ""}`);
    ctx.fillStyle = selected ? theme.outline : axis.generated[i] ? theme.generated : special ? theme.muted : theme.text;
  }

  private drawOverlay(): void {
    const ctx = clearCanvas(this.overlay);
    if (!ctx || !this.hover) return;
    const r = cellRect(this.plot, this.win, this.hover.row, this.hover.col);
    if (!r) return;
    const theme = this.theme();
    ctx.strokeStyle = theme.text;
    ctx.globalAlpha = 0.35;
    ctx.lineWidth = 1;
    ctx.strokeRect(this.plot.x + 0.5, r.y + 0.5, this.plot.w - 1, Math.max(1, r.h - 1));
    ctx.strokeRect(r.x + 0.5, this.plot.y + 0.5, Math.max(1, r.w - 1), this.plot.h - 1);
    ctx.globalAlpha = 1;
    ctx.lineWidth = 2;
    ctx.strokeRect(r.x, r.y, Math.max(2, r.w), Math.max(2, r.h));
  }

  private pointerCell(e: MouseEvent): Cell | null {
    const box = this.canvas.getBoundingClientRect();
    return cellAt(this.plot, this.win, e.clientX - box.left, e.clientY - box.top);
  }

  /** The tooltip lines for the cell under the pointer: both tokens and, at cell level, the exact
   * weight and its rank in the row; when a pixel covers a block, the block's ranges and its
   * largest weight with where it sits. Only numbers from Python's tiles are shown. */
  describe(q: number, k: number): string[] {
    const lines = [`query ${q} ${describeToken(this.rows, q)}`, `key ${k} ${describeToken(this.cols, k)}`];
    const name = this.valueName;
    const found = this.head ? this.tileAt(this.head, q, k) : null;
    if (!found) {
      lines.push(`${name}: loading…`);
    } else if (found.block[0] === 1 && found.block[1] === 1) {
      const { tile } = found;
      const [q0, , k0] = tile.window;
      const i = (q - q0) * tile.cols + (k - k0);
      const row = this.fullRow(found.tile.head, q);
      const rank = row
        ? ` · ${this.signed ? `|·| rank ${rankInRow(Array.from(row, Math.abs), k)}` : `rank ${rankInRow(row, k)}`} of ${this.nCols} in row`
        : "";
      const what = this.aggregate ? `${this.aggregate}: ${name}` : name;
      const runs = this.compare ? this.runValues(found.tile.head, q, k) : null;
      if (this.compare && this.head?.quantity === "difference") {
        const [la, lb] = this.compare;
        const code = tile.codes[i];
        const sign = tile.values[i] > 0 ? "+" : "";
        const prefix = this.aggregate ? `${this.aggregate}: ` : "";
        lines.push(`${prefix}${lb} − ${la} = ${sign}${formatCode(code)}${rank}`);
        lines.push(runs ? `${la} ${runs[0]} · ${lb} ${runs[1]}` : `${la} · ${lb}: loading…`);
      } else {
        lines.push(`${what} ${formatCode(tile.codes[i])}${rank}`);
      }
    } else {
      const { tile, i, j } = found;
      const [br, bc] = tile.block;
      const [q0, , k0] = tile.window;
      const a = q0 + i * br;
      const c = k0 + j * bc;
      const a1 = Math.min(this.nRows, a + br) - 1;
      const c1 = Math.min(this.nCols, c + bc) - 1;
      const o = i * tile.cols + j;
      lines[0] = `queries ${a}–${a1} · keys ${c}–${c1} (a block of ${a1 - a + 1} × ${c1 - c + 1} cells)`;
      lines.length = 1;
      const what = this.signed ? `largest |${name}|` : `largest ${name}`;
      if (tile.values[o] === 0 && !this.signed) {
        lines.push(`${what} 0 (every weight in the block is 0)`);
      } else {
        const w = tile.where ? tile.where[o] : 0;
        const wq = a + Math.floor(w / bc);
        const wk = c + (w % bc);
        lines.push(`${what} ${formatCode(tile.codes[o])}`);
        lines.push(`at query ${wq} ${describeToken(this.rows, wq)}, key ${wk} ${describeToken(this.cols, wk)}`);
      }
      if (found.block[0] > this.block) lines.push("finer tiles loading…");
      else lines.push("zoom in for single cells");
    }
    if (q === this.targetRow) lines.push("▶ the saliency target position");
    if (this.aggregate && !(found && found.block[0] === 1 && found.block[1] === 1)) lines.push(this.aggregate);
    return lines;
  }

  /** The weights of runs a and b at (q, k), as Python rounded them, once their tiles are here. */
  private runValues(head: HeadRef, q: number, k: number): [string, string] | null {
    const out: string[] = [];
    for (const quantity of ["a", "b"]) {
      const found = this.tileAt({ ...head, quantity }, q, k);
      const cell = found && found.block[0] === 1 && found.block[1] === 1;
      if (!found || !cell) return null;
      const [q0, , k0] = found.tile.window;
      out.push(formatCode(found.tile.codes[(q - q0) * found.tile.cols + (k - k0)]));
    }
    return [out[0], out[1]];
  }

  /** The finest tile here that covers (q, k), at the level shown or coarser. */
  private tileAt(head: HeadRef, q: number, k: number): { tile: Tile; block: [number, number]; i: number; j: number } | null {
    for (let b = this.block; b <= this.block * 2 ** 20; b *= 2) {
      const span = TILE_SIDE * b;
      const ty = Math.floor(q / span);
      const tx = Math.floor(k / span);
      const window: [number, number, number, number] = [
        ty * span,
        Math.min(this.nRows, (ty + 1) * span),
        tx * span,
        Math.min(this.nCols, (tx + 1) * span),
      ];
      const tile = this.store.get({ head, window, block: [b, b] });
      if (tile) return { tile, block: [b, b], i: Math.floor((q - window[0]) / b), j: Math.floor((k - window[2]) / b) };
      if (span >= this.nRows && span >= this.nCols) break;
    }
    return null;
  }

  /** Row q's exact values when every tile of it is here (ranks need the whole row). */
  private fullRow(head: HeadRef, q: number): Float32Array | null {
    const out = new Float32Array(this.nCols);
    const ty = Math.floor(q / TILE_SIDE);
    for (let k0 = 0; k0 < this.nCols; k0 += TILE_SIDE) {
      const window: [number, number, number, number] = [
        ty * TILE_SIDE,
        Math.min(this.nRows, (ty + 1) * TILE_SIDE),
        k0,
        Math.min(this.nCols, k0 + TILE_SIDE),
      ];
      const tile = this.store.get({ head, window, block: [1, 1] });
      if (!tile) return null;
      const r = q - window[0];
      out.set(tile.values.subarray(r * tile.cols, (r + 1) * tile.cols), k0);
    }
    return out;
  }

  private onMove(e: PointerEvent): void {
    if (this.spanDrag) {
      const row = this.queryRowAt(e, true);
      if (row >= 0 && row !== this.spanDrag.to) {
        this.spanDrag.to = row;
        this.draw();
      }
      return;
    }
    if (this.drag) {
      const dx = Math.round((this.drag.x - e.clientX) / (this.plot.w / this.win.cols));
      const dy = Math.round((this.drag.y - e.clientY) / (this.plot.h / this.win.rows));
      if (Math.abs(this.drag.x - e.clientX) + Math.abs(this.drag.y - e.clientY) > 4) this.drag.moved = true;
      if (this.drag.moved) {
        this.tooltip.hide();
        this.setWindow(panWindow(this.drag.win, this.nRows, this.nCols, dy, dx));
        return;
      }
    }
    const cell = this.pointerCell(e);
    const labelRow = cell || !this.targetable ? -1 : this.labelRowAt(e);
    this.canvas.style.cursor = labelRow >= 0 ? "pointer" : "";
    if (labelRow >= 0) {
      this.onLeave();
      const lines = [
        `query ${labelRow} ${describeToken(this.rows, labelRow)}`,
        "click: explain the next-token prediction after this token",
      ];
      this.tooltip.show(lines, e.clientX, e.clientY, "heatmap");
      return;
    }
    if (!cell) {
      this.onLeave();
      return;
    }
    this.tooltip.show(this.describe(cell.row, cell.col), e.clientX, e.clientY, "heatmap");
    if (this.hover?.row !== cell.row || this.hover?.col !== cell.col) {
      this.hover = cell;
      this.drawOverlay();
    }
  }

  private onLeave(): void {
    this.tooltip.hide();
    if (this.hover) {
      this.hover = null;
      this.drawOverlay();
    }
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    if (e.shiftKey) {
      const row = this.queryRowAt(e);
      if (row >= 0) {
        this.spanDrag = { from: row, to: row };
        this.canvas.setPointerCapture?.(e.pointerId);
        return;
      }
    }
    this.drag = { x: e.clientX, y: e.clientY, win: this.win, moved: false };
    this.canvas.setPointerCapture?.(e.pointerId);
  }

  private onUp(e: PointerEvent): void {
    const span = this.spanDrag;
    if (span) {
      this.spanDrag = null;
      // a shift-click (no drag) extends from the selected query, as in a list
      const from = span.from === span.to && this.query >= 0 ? this.query : span.from;
      this.events.queries(spanOf({ from, to: span.to }));
      return;
    }
    const drag = this.drag;
    this.drag = null;
    if (drag?.moved) return;
    const cell = this.pointerCell(e);
    if (!cell) {
      const row = this.labelRowAt(e);
      if (row >= 0 && this.targetable) this.events.target(row);
      return;
    }
    const same = cell.row === this.query && cell.col === this.key;
    this.events.select(same ? -1 : cell.row, same ? -1 : cell.col); // a second click clears
  }

  /** The query row under the pointer, on a cell or its label (clamped to the plot while
   * dragging), or -1. */
  private queryRowAt(e: MouseEvent, clamp = false): number {
    const box = this.canvas.getBoundingClientRect();
    const y = e.clientY - box.top;
    const x = e.clientX - box.left;
    const inside = y >= this.plot.y && y < this.plot.y + this.plot.h && x < this.plot.x + this.plot.w;
    if (!inside && !clamp) return -1;
    const f = Math.min(0.9999, Math.max(0, (y - this.plot.y) / this.plot.h));
    return this.win.row0 + Math.floor(f * this.win.rows);
  }

  /** The query whose label is under the pointer (left of the plot), or -1. */
  private labelRowAt(e: MouseEvent): number {
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    if (x >= this.plot.x || y < this.plot.y || y >= this.plot.y + this.plot.h) return -1;
    return this.win.row0 + Math.min(this.win.rows - 1, Math.floor(((y - this.plot.y) / this.plot.h) * this.win.rows));
  }

  private onWheel(e: WheelEvent): void {
    const cell = this.pointerCell(e);
    if (!cell) return;
    e.preventDefault();
    const factor = Math.exp(-e.deltaY * 0.002);
    this.setWindow(zoomWindow(this.win, this.nRows, this.nCols, factor, cell));
  }
}

/** The rows from one end of a drag to the other, in order. */
function spanOf(drag: { from: number; to: number }): number[] {
  const lo = Math.min(drag.from, drag.to);
  const hi = Math.max(drag.from, drag.to);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
