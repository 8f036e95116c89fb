// The token strip: one value per token as a row of coloured word cells that wraps like text (the
// word-level picture of the brief), with its own colour bar. It shows either the heatmap's row for
// the selected query (sharing the heatmap's scale) or a per-token saliency vector from Python
// (coloured by magnitude; the tooltip keeps the sign). Named spans are drawn as brackets over the
// cells. Cells have one size so tests and users can find token j by arithmetic. The keyboard
// (strip_keys.ts) moves a focused cell, drawn dashed; a search's matches get a line on top.
import type { Theme } from "../draw/canvas";
import { font, setPlotAttributes, sizeCanvas, strokeFocus, strokeMark } from "../draw/canvas";
import { COLORBAR_WIDTH, drawColorbar } from "../draw/colorbar";
import type { ColorScale } from "../draw/colormap";
import type { Rect } from "../draw/layout";
import { fitText, rankInRow, spanLevels } from "../draw/layout";
import { svgExtras } from "../draw/svg_hooks";
import type { ClientBox, Tooltip } from "../draw/tooltip";
import { describeQueries, describeToken } from "../draw/tooltip";
import type { TileSpec, TileStore } from "../tiles/tile_store";
import { codesOf, decodeCodes, formatCode } from "../wire/decode";
import type { HeadRef } from "../wire/protocol";
import type { Axis, Span, WidgetState } from "../wire/types";
import { drawStripMatches } from "./search_marks";
import { StripKeys } from "./strip_keys";
import type { Matches } from "./token_search";
import { NO_MATCHES } from "./token_search";
import type { StripEvents, StripVector, TokenStrip } from "./token_strip";

/** The mean row of several selected queries, computed by Python for the head shown. */
export interface QueriesRow {
  queries: number[];
  codes: Uint16Array;
  values: Float32Array;
}

/** Python's mean row (the _queries_row trait) when it belongs to the head and the queries shown
 * now, else null (the strip shows the selected query's row until the right one arrives). */
export function queriesRowOf(
  payload: WidgetState["_queries_row"] | undefined,
  head: HeadRef,
  queries: number[],
): QueriesRow | null {
  const fresh =
    !!payload &&
    payload.what === "strip" &&
    payload.kind === head.kind &&
    payload.layer === head.layer &&
    payload.head === head.head &&
    payload.quantity === head.quantity &&
    JSON.stringify(payload.queries ?? []) === JSON.stringify(queries);
  const codes = fresh ? codesOf(payload?.data) : new Uint16Array(0);
  return queries.length > 0 && codes.length > 0 ? { queries, codes, values: decodeCodes(codes) } : null;
}

const CELL_W = 68;
const CELL_H = 24;
const LEVEL_H = 14; // room above each line of cells per row of span brackets
const MIN_H = 96; // tall enough for a readable colour bar

export class StripView implements TokenStrip {
  readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLDivElement;
  /** The line above the view saying what it shows (figures copy it). */
  get captionEl(): HTMLDivElement {
    return this.caption;
  }
  /** The caption and the strip: hidden as one when the track stands in for long inputs. */
  readonly el: HTMLDivElement;
  private rows: Axis = { tokens: [], special: [], generated: [] }; // queries
  private cols: Axis = { tokens: [], special: [], generated: [] }; // keys: one cell each
  private head: HeadRef | null = null;
  private matrixName = "weight";
  private scale: ColorScale | null = null;
  private needed: TileSpec[] = [];
  private vector: StripVector | null = null;
  private vectorWanted = false; // a saliency method is chosen: never fall back to the heatmap row
  private spans: Span[] = [];
  private query = 0;
  private querySelected = false; // false: showing the last token's row by default
  private key = -1;
  private maxWidth = 600;
  private perLine = 1;
  private lineH = CELL_H;
  private plot: Rect = { x: 0, y: 0, w: 0, h: 0 };
  private fitted: string[] = []; // labels shortened to the cell width, kept across head switches
  private queriesRow: QueriesRow | null = null; // several queries selected: their mean row (Python's)
  private focused = -1; // the keyboard's key while the canvas has focus
  private matches: Matches = NO_MATCHES;

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: StripEvents,
    private readonly store: TileStore,
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
    this.el = document.createElement("div");
    this.el.className = "attn-word-strip";
    this.el.append(this.caption, scroller);
    container.append(this.el);
    const opts = { signal };
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.tooltip.hide(), opts);
    this.canvas.addEventListener("pointerleave", () => this.events.hover?.(-1), opts);
    this.canvas.addEventListener("click", (e) => this.onClick(e), opts);
    const host = {
      size: () => this.cols.tokens.length,
      perLine: () => this.perLine,
      page: () => this.perLine * 4,
      selected: () => ({ query: this.query, chosen: this.querySelected, key: this.key }),
      lines: (j: number) => this.linesAt(j),
      cellBox: (j: number) => this.cellBox(j),
      mark: (j: number) => {
        this.focused = j;
        this.draw();
        if (j >= 0) this.canvas.parentElement?.scrollTo?.({ top: Math.floor(j / this.perLine) * this.lineH - CELL_H });
      },
    };
    new StripKeys(this.canvas, host, events, tooltip, signal);
  }

  /** The tokens a search found: a line on top of their cells. */
  setMatches(matches: Matches): void {
    this.matches = matches;
  }

  /** Key j's cell in client pixels. */
  private cellBox(j: number): ClientBox {
    const box = this.canvas.getBoundingClientRect();
    const left = box.left + (j % this.perLine) * CELL_W;
    const top = box.top + Math.floor(j / this.perLine) * this.lineH + this.lineH - CELL_H;
    return { left, top, right: left + CELL_W, bottom: top + CELL_H };
  }

  setAxes(rows: Axis, cols: Axis): void {
    this.rows = rows;
    this.cols = cols;
    this.fitted = [];
  }

  setSpans(spans: Span[]): void {
    this.spans = spans;
    this.canvas.dataset.spans = spans.map((s) => `${s.name}:${s.start}-${s.end}`).join(" ");
  }

  /** The heatmap's head (its row for the selected query is shown unless a vector is chosen),
   * with the heatmap's colour scale. */
  setHead(head: HeadRef | null, scale: ColorScale | null, valueName = "weight"): void {
    this.head = head;
    this.scale = scale;
    this.matrixName = valueName;
    this.updateCaption();
  }

  /** The row tile the strip will need once `head` is shown: asked with the heatmap's tiles at a
   * head switch, so its reply comes in the same burst instead of a round trip later. */
  specsFor(head: HeadRef): TileSpec[] {
    if (this.vectorWanted || this.queriesRow) return [];
    return [{ head, window: [this.query, this.query + 1, 0, this.cols.tokens.length], block: [1, 1] }];
  }

  /** The row tile the last draw needed. */
  get wanted(): TileSpec[] {
    return this.needed;
  }

  /** A saliency vector from Python; `wanted` without a vector: one is being computed. */
  setVector(vector: StripVector | null, wanted: boolean): void {
    this.vector = vector;
    this.vectorWanted = wanted;
    this.updateCaption();
  }

  /** Several queries are selected: show their mean row (null: the selected query's row). */
  setQueriesRow(row: QueriesRow | null): void {
    this.queriesRow = row;
    this.updateCaption();
  }

  /** The row shown is the selected query, or the last token when none is selected. */
  setSelection(query: number, key: number): void {
    this.query = query >= 0 ? query : Math.max(0, this.rows.tokens.length - 1);
    this.key = key;
    this.querySelected = query >= 0;
    this.updateCaption();
  }

  private updateCaption(): void {
    if (this.vectorWanted) {
      this.caption.textContent = this.vector ? this.vector.label : "computing…";
      return;
    }
    const what0 = this.matrixName === "weight" ? "attention" : this.matrixName;
    if (this.queriesRow) {
      const n = this.queriesRow.queries.length;
      this.caption.textContent = `mean ${what0} from ${describeQueries(this.queriesRow.queries)} (${n} rows) to each key`;
      return;
    }
    const q = describeToken(this.rows, this.query);
    const hint = this.querySelected ? "" : " · no query selected, showing the last token: click a heatmap cell to choose";
    const what = this.matrixName === "weight" ? "attention" : this.matrixName;
    this.caption.textContent = `${what} from query ${this.query} ${q} to each key${hint}`;
  }

  layout(maxWidth: number): void {
    this.maxWidth = Math.max(CELL_W, maxWidth);
  }

  /** Draw on the view's canvas, or into `target` (an export: the same picture). */
  draw(target?: CanvasRenderingContext2D): void {
    const n = this.cols.tokens.length;
    if (n === 0) return;
    const theme = this.theme();
    this.perLine = Math.max(1, Math.min(n, Math.floor((this.maxWidth - COLORBAR_WIDTH - 12) / CELL_W)));
    const lines = Math.ceil(n / this.perLine);
    const levels = spanLevels(this.spans);
    const band = this.spans.length > 0 ? (Math.max(...levels) + 1) * LEVEL_H + 2 : 0;
    this.lineH = CELL_H + band;
    this.plot = { x: 0, y: 0, w: this.perLine * CELL_W, h: lines * this.lineH };
    const width = this.plot.w + 12 + COLORBAR_WIDTH;
    const height = Math.max(this.plot.h, MIN_H);
    const ctx = target ?? sizeCanvas(this.canvas, width, height);
    if (!target) {
      ctx.clearRect(0, 0, width, height);
      setPlotAttributes(this.canvas, this.plot, lines, this.perLine);
    }
    const shown = this.shown();
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const measure = (s: string) => ctx.measureText(s).width;
    for (let j = 0; j < n; j++) {
      const x = (j % this.perLine) * CELL_W;
      const y = Math.floor(j / this.perLine) * this.lineH + band;
      const v = shown ? shown.values[j] : 0;
      ctx.fillStyle = shown ? shown.scale.css(v) : "rgba(128,128,128,0.2)";
      ctx.fillRect(x + 1, y + 1, CELL_W - 2, CELL_H - 2);
      ctx.font = font(theme, 11, this.cols.special[j] ? "italic" : "");
      ctx.fillStyle = shown ? shown.scale.textColor(v) : theme.text;
      this.fitted[j] ??= fitText(this.cols.tokens[j], CELL_W - 8, measure);
      svgExtras(ctx).titleNext?.(this.cols.tokens[j]);
      ctx.fillText(this.fitted[j], x + CELL_W / 2, y + CELL_H / 2);
      if (this.cols.generated[j]) {
        ctx.fillStyle = theme.generated; // a bar under generated tokens
        ctx.fillRect(x + 3, y + CELL_H - 4, CELL_W - 6, 2);
      }
    }
    if (band) this.drawBrackets(ctx, theme, levels, band);
    const cellAt = (j: number) => ({
      x: (j % this.perLine) * CELL_W,
      y: Math.floor(j / this.perLine) * this.lineH + band,
      w: CELL_W,
    });
    drawStripMatches(ctx, theme, this.matches, cellAt);
    if (shown) drawColorbar(ctx, theme, this.plot.w + 12, 4, Math.min(height - 8, 160), shown.scale, shown.title); // stays in view when the strip scrolls
    if (this.key >= 0 && this.key < n) {
      const j = this.key;
      strokeMark(
        ctx,
        theme,
        (j % this.perLine) * CELL_W + 1,
        Math.floor(j / this.perLine) * this.lineH + band + 1,
        CELL_W - 2,
        CELL_H - 2,
        2,
      );
    }
    if (!target && this.focused >= 0 && this.focused < n) {
      const c = cellAt(this.focused);
      strokeFocus(ctx, c.x + 2, c.y + 2, CELL_W - 4, CELL_H - 4);
    }
  }

  /** A bracket over each span's cells, split where the strip wraps, with the span's name. */
  private drawBrackets(ctx: CanvasRenderingContext2D, theme: Theme, levels: number[], band: number): void {
    ctx.strokeStyle = theme.text;
    ctx.fillStyle = theme.text;
    ctx.lineWidth = 1;
    ctx.font = font(theme, 10, "600");
    ctx.textBaseline = "middle";
    this.spans.forEach((span, i) => {
      for (let start = span.start; start < span.end; ) {
        const line = Math.floor(start / this.perLine);
        const end = Math.min(span.end, (line + 1) * this.perLine);
        const x0 = (start % this.perLine) * CELL_W + 3;
        const x1 = ((end - 1) % this.perLine) * CELL_W + CELL_W - 3;
        const y = line * this.lineH + band - 3 - levels[i] * LEVEL_H;
        ctx.beginPath();
        ctx.moveTo(x0 + 0.5, y + 2);
        ctx.lineTo(x0 + 0.5, y - 3.5);
        ctx.lineTo(x1 - 0.5, y - 3.5);
        ctx.lineTo(x1 - 0.5, y + 2);
        ctx.stroke();
        const label = span.name;
        const w = ctx.measureText(label).width + 6;
        const mid = (x0 + x1) / 2;
        ctx.clearRect(mid - w / 2, y - 9, w, 11);
        ctx.textAlign = "center";
        ctx.fillText(label, mid, y - 3.5);
        start = end;
      }
    });
  }

  /** What the cells show now: the vector, or the heatmap's row. */
  private shown(): {
    values: ArrayLike<number>;
    codes: Uint16Array;
    scale: ColorScale;
    title: string;
    name: string;
    offset: number;
  } | null {
    if (this.vectorWanted) {
      this.needed = [];
      const v = this.vector;
      return v ? { values: v.values, codes: v.codes, scale: v.scale, title: v.shortName, name: v.valueName, offset: 0 } : null;
    }
    const n = this.cols.tokens.length;
    const span = this.queriesRow;
    if (span && this.scale && span.values.length === n) {
      this.needed = [];
      const what = this.matrixName === "weight" ? "mean attention weight" : `mean ${this.matrixName}`;
      const title = this.matrixName === "weight" ? "mean weight" : `mean ${this.matrixName}`;
      return { values: span.values, codes: span.codes, scale: this.scale, title, name: what, offset: 0 };
    }
    this.needed = this.head ? [{ head: this.head, window: [this.query, this.query + 1, 0, n], block: [1, 1] }] : [];
    const tile = this.head ? this.store.get(this.needed[0]) : undefined;
    if (!tile || !this.scale) return null;
    const title =
      this.matrixName === "weight" ? "attention weight" : this.scale.lo < 0 ? this.matrixName : `|${this.matrixName}|`;
    return { values: tile.values, codes: tile.codes, scale: this.scale, title, name: this.matrixName, offset: 0 };
  }

  private tokenAt(e: MouseEvent): number {
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    if (x < 0 || y < 0 || x >= this.plot.w || y >= this.plot.h) return -1;
    const j = Math.floor(y / this.lineH) * this.perLine + Math.floor(x / CELL_W);
    return j < this.cols.tokens.length ? j : -1;
  }

  private onMove(e: PointerEvent): void {
    const j = this.tokenAt(e);
    this.events.hover?.(j);
    if (j < 0) this.tooltip.hide();
    else this.tooltip.show(this.linesAt(j), e.clientX, e.clientY, "strip");
  }

  /** What the tooltip says about key j. */
  private linesAt(j: number): string[] {
    const shown = this.shown();
    const n = this.cols.tokens.length;
    const from = this.queriesRow
      ? `${describeQueries(this.queriesRow.queries)}: mean of ${this.queriesRow.queries.length} rows`
      : `query ${this.query} ${describeToken(this.rows, this.query)}`;
    const lines = this.vectorWanted
      ? [`token ${j} ${describeToken(this.cols, j)}`]
      : [from, `key ${j} ${describeToken(this.cols, j)}`];
    if (shown) {
      const code = shown.codes[shown.offset + j];
      const rank = this.vectorWanted ? rankInRow(Array.from(shown.values, Math.abs), j) : rankInRow(shown.values, j);
      const rankText = this.vectorWanted ? `|·| rank ${rank} of ${n}` : `rank ${rank} of ${n} in row`;
      lines.push(`${shown.name} ${formatCode(code)} · ${rankText}`);
    } else {
      lines.push(this.vectorWanted ? "computing…" : "loading…");
    }
    for (const span of this.spans) if (j >= span.start && j < span.end) lines.push(`in span ${JSON.stringify(span.name)}`);
    return lines;
  }

  private onClick(e: MouseEvent): void {
    const j = this.tokenAt(e);
    if (j >= 0) this.events.select(this.query, j === this.key ? -1 : j);
  }
}
