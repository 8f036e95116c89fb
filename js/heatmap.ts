// The selected head's token x token heatmap: rows = query (the attending token), columns = key
// (the attended token). Labels are thinned so they never overlap, values are printed in cells that
// are big enough, and long inputs zoom (wheel) and pan (drag); double-click resets the view.
import type { Theme } from "./canvas";
import { clearCanvas, font, layeredCanvas, setPlotAttributes, sizeCanvas, strokeMark } from "./canvas";
import { COLORBAR_WIDTH, drawColorbar } from "./colorbar";
import type { ColorScale } from "./colormap";
import { formatCode } from "./decode";
import { rankInRow } from "./head_store";
import type { Cell, CellWindow, Rect } from "./layout";
import { cellAt, cellRect, clampWindow, fitText, fullWindow, labelIndices, labelStep, panWindow, spanLevels, zoomWindow } from "./layout";
import { rasterize } from "./raster";
import type { Tooltip } from "./tooltip";
import { describeToken } from "./tooltip";
import type { Axis, HeadMatrix, Span } from "./types";

export interface HeatmapEvents {
  select(query: number, key: number): void;
  windowChanged(win: CellWindow): void;
  /** A query label was clicked while saliency can be recomputed: predict after that token. */
  target(query: number): void;
}

const SPAN_LEVEL_PX = 22; // below the plot: one row of brackets for named key spans

const MAX_LABEL_PX = 96;
const MAX_CELL_PX = 56;
const MAX_PLOT_PX = 720;
const MIN_VALUE_CELL_PX = 30; // print the weight inside cells at least this big

export class HeatmapView {
  readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private rows: Axis = { tokens: [], special: [], generated: [] }; // queries
  private cols: Axis = { tokens: [], special: [], generated: [] }; // keys
  private matrix: HeadMatrix | null = null;
  private scale: ColorScale | null = null;
  private status = "";
  private query = -1;
  private key = -1;
  private win: CellWindow = fullWindow(0, 0);
  private plot: Rect = { x: 0, y: 0, w: 0, h: 0 };
  private maxWidth = 600;
  private hover: Cell | null = null;
  private raster: { canvas: HTMLCanvasElement; matrix: HeadMatrix; win: CellWindow; px: number; scale: ColorScale } | null = null;
  private drag: { x: number; y: number; win: CellWindow; moved: boolean } | null = null;
  private valueName = "weight"; // tooltip name of the number shown
  private colorbarTitle = "attention weight";
  private spans: Span[] = [];
  private targetRow = -1; // the saliency target position, marked on the query axis
  private targetable = false;

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: HeatmapEvents,
    signal: AbortSignal,
  ) {
    ({ canvas: this.canvas, overlay: this.overlay } = layeredCanvas(container, "attn-heatmap", "token x token attention of the selected head"));
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

  /** The head to show with its colour scale, or null with a status line while it loads. */
  setMatrix(matrix: HeadMatrix | null, scale: ColorScale | null, status = ""): void {
    this.matrix = matrix;
    this.scale = scale;
    this.status = status;
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

  layout(maxWidth: number): void {
    this.maxWidth = Math.max(200, maxWidth);
  }

  private setWindow(win: CellWindow): void {
    const next = clampWindow(win, this.nRows, this.nCols);
    const same = next.row0 === this.win.row0 && next.col0 === this.win.col0 && next.rows === this.win.rows && next.cols === this.win.cols;
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

  draw(): void {
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
    const ctx = sizeCanvas(this.canvas, width, height);
    sizeCanvas(this.overlay, width, height);
    ctx.clearRect(0, 0, width, height);
    setPlotAttributes(this.canvas, this.plot, this.win.rows, this.win.cols);
    this.canvas.dataset.row0 = String(this.win.row0);
    this.canvas.dataset.col0 = String(this.win.col0);
    this.drawLabels(ctx, theme);
    const zoomed = this.win.rows < nRows || this.win.cols < nCols;
    const preview = this.matrix !== null && this.matrix.factor > 1;
    if (this.matrix && this.scale && !(preview && zoomed)) {
      this.drawCells(ctx, theme, this.matrix, this.scale);
      drawColorbar(ctx, theme, left + w + 14, top, Math.max(h, 120), this.scale, this.colorbarTitle);
    } else {
      ctx.strokeStyle = theme.muted;
      ctx.strokeRect(this.plot.x + 0.5, this.plot.y + 0.5, w - 1, h - 1);
    }
    const status = this.status || (preview && zoomed ? "loading exact values…" : "");
    if (status) {
      ctx.fillStyle = theme.text;
      ctx.font = font(theme, 12);
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(status, this.plot.x + w / 2, this.plot.y + h / 2);
    }
    if (band) this.drawSpans(ctx, theme, levels);
    this.drawOverlay();
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

  private drawCells(ctx: CanvasRenderingContext2D, theme: Theme, matrix: HeadMatrix, scale: ColorScale): void {
    const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
    const px = Math.round(Math.max(this.plot.w, this.plot.h) * dpr);
    const r = this.raster;
    // A preview covers whole k x k blocks, so it reaches past N when k does not divide N.
    const win = matrix.factor > 1 ? fullWindow(matrix.rows, matrix.cols) : this.win;
    const overX = matrix.factor > 1 ? (matrix.cols * matrix.factor) / this.nCols : 1;
    const overY = matrix.factor > 1 ? (matrix.rows * matrix.factor) / this.nRows : 1;
    if (!r || r.matrix !== matrix || r.win !== this.win || r.px !== px || r.scale !== scale) {
      const img = rasterize(matrix.values, matrix.cols, win, px, scale);
      const canvas = r?.canvas ?? document.createElement("canvas");
      canvas.width = img.width;
      canvas.height = img.height;
      canvas.getContext("2d")!.putImageData(new ImageData(img.data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
      this.raster = { canvas, matrix, win: this.win, px, scale };
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.plot.x, this.plot.y, this.plot.w, this.plot.h);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.raster!.canvas, this.plot.x, this.plot.y, this.plot.w * overX, this.plot.h * overY);
    ctx.restore();
    const cellW = this.plot.w / this.win.cols;
    const cellH = this.plot.h / this.win.rows;
    const cell = Math.min(cellW, cellH);
    if (cell >= 8) {
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
    if (cell >= MIN_VALUE_CELL_PX && matrix.factor === 1) this.drawValues(ctx, theme, matrix, scale, cellW, cellH);
    const marks = this.win;
    if (this.query >= 0) {
      const a = cellRect(this.plot, marks, this.query, marks.col0);
      if (a) strokeMark(ctx, theme, this.plot.x, a.y, this.plot.w, a.h, 2);
    }
    if (this.key >= 0) {
      const a = cellRect(this.plot, marks, marks.row0, this.key);
      if (a) strokeMark(ctx, theme, a.x, this.plot.y, a.w, this.plot.h, 2);
    }
  }

  /** The weight inside each visible cell: one font size (up to 12 px) chosen so a typical weight
   * ("0.0123") fits; a longer text (1.23e-05) is set smaller to fit, and only one that would need
   * under 6 px is left to the tooltip. */
  private drawValues(ctx: CanvasRenderingContext2D, theme: Theme, matrix: HeadMatrix, scale: ColorScale, cellW: number, cellH: number): void {
    const n = matrix.cols;
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
    for (let q = row0; q < row0 + rows; q++) {
      for (let k = col0; k < col0 + cols; k++) {
        if (Math.abs(matrix.values[q * n + k]) < floor) continue;
        const text = formatCode(matrix.codes[q * n + k]);
        ctx.font = base;
        const width = ctx.measureText(text).width;
        if (width > room) {
          const smaller = Math.floor((size * room) / width);
          if (smaller < 6) continue;
          ctx.font = font(theme, smaller);
        }
        ctx.fillStyle = scale.textColor(matrix.values[q * n + k]);
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
      ctx.fillText(fitText(this.rows.tokens[q], this.plot.x - 22, measure), this.plot.x - 4, this.plot.y + (q - row0 + 0.5) * cellH);
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

  /** The tooltip lines for one cell: both tokens, the exact weight and its rank in the row. */
  describe(q: number, k: number): string[] {
    const n = this.nCols;
    const lines = [`query ${q} ${describeToken(this.rows, q)}`, `key ${k} ${describeToken(this.cols, k)}`];
    const name = this.valueName;
    if (this.matrix && this.matrix.factor > 1) {
      lines.push(`${name}: loading exact values…`);
    } else if (this.matrix) {
      const row = this.matrix.values.subarray(q * n, (q + 1) * n);
      const signed = this.scale?.magnitude ?? false;
      const rank = signed ? `|·| rank ${rankInRow(Array.from(row, Math.abs), k)} of ${n} in row` : `rank ${rankInRow(row, k)} of ${n} in row`;
      lines.push(`${name} ${formatCode(this.matrix.codes[q * n + k])} · ${rank}`);
    } else {
      lines.push(`${name}: loading…`);
    }
    if (q === this.targetRow) lines.push("▶ the saliency target position");
    return lines;
  }

  private onMove(e: PointerEvent): void {
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
      const lines = [`query ${labelRow} ${describeToken(this.rows, labelRow)}`, "click: explain the next-token prediction after this token"];
      this.tooltip.show(lines, e.clientX, e.clientY, "heatmap");
      return;
    }
    if (!cell) return this.onLeave();
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
    this.drag = { x: e.clientX, y: e.clientY, win: this.win, moved: false };
    this.canvas.setPointerCapture?.(e.pointerId);
  }

  private onUp(e: PointerEvent): void {
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
