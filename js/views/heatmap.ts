// The selected head's token x token heatmap: rows = query (the attending token), columns = key
// (the attended token). Labels are thinned so they never overlap, values are printed in cells that
// are big enough, and long inputs zoom (wheel) and pan (drag); double-click resets the view.
// What it draws are tiles (tile_store.ts) at the level of detail the window needs (lod.ts): each
// pixel at most one block, the largest weight of the block; coarser tiles fill in while finer
// ones load, and the tooltip describes the block, or the exact cell, under the pointer.
// This file holds the view's state, its size and the order of drawing; heatmap_paint.ts paints,
// heatmap_tooltip.ts words the tooltip, heatmap_pointer.ts handles the pointer and
// heatmap_vector.ts draws the cells of an SVG export; heatmap_keys.ts takes the keyboard, and
// search_marks.ts marks the tokens a search found on both axes.
import type { Theme } from "../draw/canvas";
import { clearCanvas, font, layeredCanvas, setPlotAttributes, sizeCanvas } from "../draw/canvas";
import { COLORBAR_WIDTH, drawColorbar } from "../draw/colorbar";
import { ColorScale, divergingScale, viridis } from "../draw/colormap";
import type { Cell, CellWindow, Rect } from "../draw/layout";
import { clampWindow, fullWindow, spanLevels, wrapText } from "../draw/layout";
import type { Tooltip } from "../draw/tooltip";
import { blockFor, coarserBlocks, tilesFor } from "../tiles/lod";
import type { Tile, TileSpec, TileStore } from "../tiles/tile_store";
import { KERNEL_GONE, SILENCE_MS } from "../tiles/tile_store";
import type { HeadRef } from "../wire/protocol";
import type { Quantity } from "../wire/quantities";
import { quantityOf } from "../wire/quantities";
import type { Axis, Span } from "../wire/types";
import { HeatmapKeys } from "./heatmap_keys";
import type { Frame } from "./heatmap_paint";
import { drawHover, drawLabels, drawOverTiles, drawSpans, drawTile, SPAN_LEVEL_PX, TileRasters } from "./heatmap_paint";
import type { HeatmapEvents, PointerHost } from "./heatmap_pointer";
import { HeatmapPointer } from "./heatmap_pointer";
import type { Shown } from "./heatmap_tooltip";
import { describeCell, describeTargetLabel } from "./heatmap_tooltip";
import { cellsAsRects, drawAsOneImage, drawCellRects } from "./heatmap_vector";
import { drawImageBands } from "./image_band";
import { windowShowing } from "./keyboard_nav";
import { drawAxisMatches } from "./search_marks";
import type { Matches } from "./token_search";
import { NO_MATCHES } from "./token_search";

const MAX_LABEL_PX = 96;
const MAX_CELL_PX = 56;
const MAX_PLOT_PX = 720;

const HINT =
  "hover for exact weights · click to select · shift-drag for several queries · scroll to zoom · drag to pan · double-click to reset · keys: Tab, arrows, Enter, +/-";

export class HeatmapView {
  /** The line above the heatmap saying which head and what it shows (figures copy it). */
  readonly titleEl: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private readonly pointer: HeatmapPointer;
  private rows: Axis = { tokens: [], special: [], generated: [] }; // queries
  private cols: Axis = { tokens: [], special: [], generated: [] }; // keys
  private head: HeadRef | null = null;
  private quantity: Quantity = quantityOf(null);
  private scale: ColorScale | null = null;
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
  private readonly rasters = new TileRasters();
  private spans: Span[] = [];
  private targetRow = -1; // the saliency target position, marked on the query axis
  private targetable = false;
  private aggregate = ""; // "mean of 12 heads" when an aggregate is shown
  private queries: number[] = [];
  private matches: Matches = NO_MATCHES; // what the token search found

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    tooltip: Tooltip,
    private readonly events: HeatmapEvents,
    private readonly store: TileStore,
    signal: AbortSignal,
  ) {
    this.titleEl = document.createElement("div");
    this.titleEl.className = "attn-title";
    const hint = document.createElement("div");
    hint.className = "attn-hint";
    hint.textContent = HINT;
    container.append(this.titleEl, hint);
    ({ canvas: this.canvas, overlay: this.overlay } = layeredCanvas(
      container,
      "attn-heatmap",
      "token x token attention of the selected head",
    ));
    const host: PointerHost = {
      frame: () => this.frame,
      size: () => ({ nRows: this.nRows, nCols: this.nCols }),
      selected: () => ({ query: this.query, key: this.key }),
      targetable: () => this.targetable,
      cellLines: (q, k) => this.describe(q, k),
      labelLines: (row) => describeTargetLabel(this.rows, row),
      moveWindow: (win) => this.setWindow(win),
      resetView: () => this.resetView(),
      hover: (cell) => this.setHover(cell),
      redraw: () => this.draw(),
    };
    this.pointer = new HeatmapPointer(this.canvas, host, events, tooltip, signal);
    new HeatmapKeys(this.canvas, host, events, tooltip, signal);
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

  private get frame(): Frame {
    return { plot: this.plot, win: this.win };
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

  /** What an aggregate averages ("mean of 12 heads"), or "" for one head. */
  setAggregate(label: string): void {
    this.aggregate = label;
  }

  /** Several selected queries, marked on the query axis. */
  setQueries(rows: number[]): void {
    this.queries = rows;
    this.canvas.dataset.queries = rows.join(",");
  }

  /** The tokens a search found, marked on both axes. */
  setMatches(matches: Matches): void {
    this.matches = matches;
    this.canvas.dataset.matches = String(matches.cols.length);
  }

  /** The head to show (its tiles come from the store) and the quantity it shows, or null with a
   * status line. */
  setHead(head: HeadRef | null, quantity: Quantity, status = ""): void {
    this.head = head;
    this.quantity = quantity;
    this.status = status;
  }

  /** The tiles the last draw needed (the app asks the store for them). */
  get wanted(): TileSpec[] {
    // Until the level is complete, the one tile that holds the whole view at the coarsest level
    // goes first: a head switch shows a picture after one round trip, finer tiles paint over it.
    const base = this.complete || !this.standIn ? this.needed : [this.standIn, ...this.needed];
    return [...base, ...this.partTiles()];
  }

  /** A difference at cell level: each run's own tiles too, for the tooltip's two weights. */
  private partTiles(): TileSpec[] {
    const parts = this.quantity.parts;
    if (!parts || !this.head || this.block !== 1) return [];
    const head = this.head;
    return this.needed.flatMap((spec) => parts.quantities.map((quantity) => ({ ...spec, head: { ...head, quantity } })));
  }

  /** What a switch to another head asks for first: the stand-in when this level has one, then
   * the level's tiles (the same requests the next draw would make, sent before it). */
  switchSpecs(head: HeadRef): TileSpec[] {
    const needed = this.specsFor(head);
    return this.standIn ? [{ ...this.standIn, head }, ...needed] : needed;
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

  /** Show this window (a pan, a zoom, a search's jump), telling the app when it moved. */
  setWindow(win: CellWindow): void {
    const next = clampWindow(win, this.nRows, this.nCols);
    const same =
      next.row0 === this.win.row0 && next.col0 === this.win.col0 && next.rows === this.win.rows && next.cols === this.win.cols;
    if (same) return;
    this.win = next;
    this.draw();
    this.events.windowChanged(next);
  }

  /** Pan so that key `key` is shown (the track's keyboard focus went past the window). */
  revealKey(key: number): void {
    this.setWindow(windowShowing(this.win, { row: this.win.row0, col: key }, this.nRows, this.nCols));
  }

  /** The tooltip lines for the cell (q, k). */
  private describe(q: number, k: number): string[] {
    const shown: Shown = {
      rows: this.rows,
      cols: this.cols,
      head: this.head,
      quantity: this.quantity,
      aggregate: this.aggregate,
      block: this.block,
      targetRow: this.targetRow,
    };
    return describeCell(this.store, shown, q, k);
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
    const marks = { query: this.query, key: this.key, targetRow: this.targetRow };
    drawLabels(ctx, theme, this.frame, { rows: this.rows, cols: this.cols }, marks);
    drawImageBands(ctx, this.frame, { rows: this.rows, cols: this.cols });
    drawAxisMatches(ctx, theme, this.frame, this.matches);
    const drawn = this.head ? this.drawTiles(ctx, theme, this.head, vector) : false;
    this.drew = drawn;
    if (!this.head) this.needed = [];
    this.canvas.dataset.complete = String(drawn && this.complete); // every tile the level needs is drawn
    this.canvas.dataset.block = String(this.block);
    if (drawn && this.scale) {
      drawColorbar(ctx, theme, left + w + 14, top, Math.max(h, 120), this.scale, this.quantity.colorbarTitle);
    } else {
      ctx.strokeStyle = theme.muted;
      ctx.strokeRect(this.plot.x + 0.5, this.plot.y + 0.5, w - 1, h - 1);
    }
    const status = this.statusLine(drawn);
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
    if (band) drawSpans(ctx, theme, this.frame, this.spans, levels);
    if (!target) this.drawOverlay();
  }

  /** What the plot says instead of (or over) a picture: the app's status, the kernel's refusal,
   * or that the head is on its way (or that the kernel has gone silent). "" when all is well. */
  private statusLine(drawn: boolean): string {
    if (this.status) return this.status;
    const failure = this.head && this.needed.length ? this.needed.map((t) => this.store.error(t)).find((e) => e) : undefined;
    if (failure) return failure === KERNEL_GONE ? failure : `could not load this view: ${failure}`;
    if (!this.head || drawn) return "";
    return this.store.silentMs >= SILENCE_MS
      ? `no answer from the kernel for ${Math.round(this.store.silentMs / 1000)} s: this head's weights come from Python on request, so it needs a running kernel (rerun the cell)`
      : `loading layer ${this.head.layer}, head ${this.head.head}…`;
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
    // A stand-in only for pooled levels: tiles of exact cells (block 1) cost the kernel no more
    // than the stand-in would, so it would only add a reply and a redraw before them.
    this.standIn = levels[0] !== this.block && top.length === 1 && this.block > 1 ? top[0] : null;
    const byLevel = levels.map((b) =>
      (b === this.block ? this.needed : specs(b)).map((spec) => this.store.get(spec)).filter((t): t is Tile => !!t),
    );
    this.scale = this.scaleFor(head);
    const scale = this.scale;
    let drawn = false;
    const finest = byLevel[byLevel.length - 1] ?? [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.plot.x, this.plot.y, this.plot.w, this.plot.h);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    this.complete = finest.length === this.needed.length && this.needed.length > 0;
    if (vector && scale && cellsAsRects(this.win, this.block, this.complete)) {
      drawCellRects(ctx, this.frame, finest, scale);
      drawn = true;
    } else if (vector && scale && byLevel.some((here) => here.length)) {
      drawAsOneImage(ctx, this.frame, byLevel, this.block, scale, this.rasters);
      drawn = true;
    } else {
      for (const here of byLevel) {
        if (here.length && scale) {
          for (const tile of here) drawTile(ctx, this.frame, this.rasters.of(tile, scale), tile);
          drawn = true;
        }
      }
    }
    ctx.restore();
    if (!drawn || !scale) return false;
    const marks = { query: this.query, key: this.key, targetRow: this.targetRow };
    const selectedRows = this.pointer.draggedRows ?? this.queries;
    drawOverTiles(ctx, theme, this.frame, this.block === 1 ? finest : [], scale, marks, selectedRows);
    return true;
  }

  /** The head's colour scale once its range is known: kept while it still fits, so each tile is
   * rasterized once. Viridis from 0 (by size for a signed quantity), or red-blue around 0. */
  private scaleFor(head: HeadRef): ColorScale | null {
    const range = this.store.range(head); // known once any tile of the head is here
    if (!range) return null;
    const { signed, diverging } = this.quantity;
    const hi = range[1] > 0 ? range[1] : 1;
    const fits =
      this.scale && this.scale.hi === hi && this.scale.magnitude === (signed && !diverging) && this.scale.lo < 0 === diverging;
    if (fits) return this.scale;
    return diverging ? divergingScale(range[1]) : new ColorScale(0, hi, viridis(), signed);
  }

  private setHover(cell: Cell | null): void {
    if (this.hover?.row === cell?.row && this.hover?.col === cell?.col) return;
    this.hover = cell;
    this.drawOverlay();
    this.events.hover?.(cell?.row ?? -1, cell?.col ?? -1);
  }

  private drawOverlay(): void {
    const ctx = clearCanvas(this.overlay);
    if (ctx && this.hover) drawHover(ctx, this.theme(), this.frame, this.hover);
  }
}
