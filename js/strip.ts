// The token strip: the selected query's attention over every token, as a row of coloured word
// cells that wraps like text (the word-level picture of the brief). It shares the heatmap's colour
// scale. Cells have one width so tests and users can find token j by arithmetic.
import type { Theme } from "./canvas";
import { font, setPlotAttributes, sizeCanvas, strokeMark } from "./canvas";
import type { ColorScale } from "./colormap";
import { formatCode } from "./decode";
import { rankInRow } from "./head_store";
import type { Rect } from "./layout";
import { fitText } from "./layout";
import type { Tooltip } from "./tooltip";
import { describeToken } from "./tooltip";
import type { Axis, HeadMatrix } from "./types";

export interface StripEvents {
  /** A token was clicked: select (shown query, that key); clicking the selected key clears it. */
  select(query: number, key: number): void;
}

const CELL_W = 68;
const CELL_H = 24;

export class StripView {
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLDivElement;
  private rows: Axis = { tokens: [], special: [], generated: [] }; // queries
  private cols: Axis = { tokens: [], special: [], generated: [] }; // keys: one cell each
  private matrix: HeadMatrix | null = null;
  private scale: ColorScale | null = null;
  private query = 0;
  private key = -1;
  private maxWidth = 600;
  private perLine = 1;
  private plot: Rect = { x: 0, y: 0, w: 0, h: 0 };
  private fitted: string[] = []; // labels shortened to the cell width, kept across head switches

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: StripEvents,
    signal: AbortSignal,
  ) {
    this.caption = document.createElement("div");
    this.caption.className = "attn-caption";
    const scroller = document.createElement("div");
    scroller.className = "attn-strip-scroll";
    this.canvas = document.createElement("canvas");
    this.canvas.dataset.testid = "attn-strip";
    this.canvas.setAttribute("role", "img");
    scroller.appendChild(this.canvas);
    container.append(this.caption, scroller);
    const opts = { signal };
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.tooltip.hide(), opts);
    this.canvas.addEventListener("click", (e) => this.onClick(e), opts);
  }

  setAxes(rows: Axis, cols: Axis): void {
    this.rows = rows;
    this.cols = cols;
    this.fitted = [];
  }

  setMatrix(matrix: HeadMatrix | null, scale: ColorScale | null): void {
    this.matrix = matrix;
    this.scale = scale;
  }

  /** The row shown is the selected query, or the last token when none is selected. */
  setSelection(query: number, key: number): void {
    this.query = query >= 0 ? query : Math.max(0, this.rows.tokens.length - 1);
    this.key = key;
    const q = describeToken(this.rows, this.query);
    const hint = query >= 0 ? "" : " · no query selected, showing the last token: click a heatmap cell to choose";
    this.caption.textContent = `attention from query ${this.query} ${q} to each key${hint}`;
  }

  layout(maxWidth: number): void {
    this.maxWidth = Math.max(CELL_W, maxWidth);
  }

  draw(): void {
    const n = this.cols.tokens.length;
    if (n === 0) return;
    const theme = this.theme();
    this.perLine = Math.max(1, Math.min(n, Math.floor(this.maxWidth / CELL_W)));
    const lines = Math.ceil(n / this.perLine);
    this.plot = { x: 0, y: 0, w: this.perLine * CELL_W, h: lines * CELL_H };
    const ctx = sizeCanvas(this.canvas, this.plot.w, this.plot.h);
    ctx.clearRect(0, 0, this.plot.w, this.plot.h);
    setPlotAttributes(this.canvas, this.plot, lines, this.perLine);
    const row = this.row();
    ctx.font = font(theme, 11);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const measure = (s: string) => ctx.measureText(s).width;
    for (let j = 0; j < n; j++) {
      const x = (j % this.perLine) * CELL_W;
      const y = Math.floor(j / this.perLine) * CELL_H;
      const v = row ? row[j] : 0;
      ctx.fillStyle = row && this.scale ? this.scale.css(v) : "rgba(128,128,128,0.2)";
      ctx.fillRect(x + 1, y + 1, CELL_W - 2, CELL_H - 2);
      ctx.font = font(theme, 11, this.cols.special[j] ? "italic" : "");
      ctx.fillStyle = row && this.scale ? this.scale.textColor(v) : theme.text;
      this.fitted[j] ??= fitText(this.cols.tokens[j], CELL_W - 8, measure);
      ctx.fillText(this.fitted[j], x + CELL_W / 2, y + CELL_H / 2);
      if (this.cols.generated[j]) {
        ctx.fillStyle = theme.generated; // a bar under generated tokens
        ctx.fillRect(x + 3, y + CELL_H - 4, CELL_W - 6, 2);
      }
    }
    const mark = (j: number) => {
      if (j < 0 || j >= n) return;
      strokeMark(ctx, theme, (j % this.perLine) * CELL_W + 1, Math.floor(j / this.perLine) * CELL_H + 1, CELL_W - 2, CELL_H - 2, 2);
    };
    mark(this.key);
  }

  private row(): Float32Array | null {
    if (!this.matrix) return null;
    const n = this.cols.tokens.length;
    return this.matrix.values.subarray(this.query * n, (this.query + 1) * n);
  }

  private tokenAt(e: MouseEvent): number {
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    if (x < 0 || y < 0 || x >= this.plot.w || y >= this.plot.h) return -1;
    const j = Math.floor(y / CELL_H) * this.perLine + Math.floor(x / CELL_W);
    return j < this.cols.tokens.length ? j : -1;
  }

  private onMove(e: PointerEvent): void {
    const j = this.tokenAt(e);
    if (j < 0) return this.tooltip.hide();
    const n = this.cols.tokens.length;
    const lines = [`query ${this.query} ${describeToken(this.rows, this.query)}`, `key ${j} ${describeToken(this.cols, j)}`];
    const row = this.row();
    if (row && this.matrix) lines.push(`weight ${formatCode(this.matrix.codes[this.query * n + j])} · rank ${rankInRow(row, j)} of ${n} in row`);
    this.tooltip.show(lines, e.clientX, e.clientY, "strip");
  }

  private onClick(e: MouseEvent): void {
    const j = this.tokenAt(e);
    if (j >= 0) this.events.select(this.query, j === this.key ? -1 : j);
  }
}
