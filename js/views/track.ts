// The strip for long inputs: one track of the selected query's row over the keys the heatmap
// shows (its zoom and pan follow the heatmap's key axis). Zoomed out, each pixel is the largest
// weight of a block of keys (row tiles from the kernel, lod.ts); once a key is wide enough its
// token is written in it. A saliency vector from Python is pooled the same way in the page. The
// keyboard (strip_keys.ts) moves a focused key, and the heatmap pans to keep it in view; a
// search's matches are ticks above the track.
import type { Theme } from "../draw/canvas";
import { font, setPlotAttributes, sizeCanvas, strokeFocus, strokeMark } from "../draw/canvas";
import { COLORBAR_WIDTH, drawColorbar } from "../draw/colorbar";
import type { ColorScale } from "../draw/colormap";
import { fitText, labelIndices, labelStep } from "../draw/layout";
import { svgExtras } from "../draw/svg_hooks";
import type { ClientBox, Tooltip } from "../draw/tooltip";
import { describeToken } from "../draw/tooltip";
import { blockFor, poolWindow } from "../tiles/lod";
import type { Tile, TileSpec, TileStore } from "../tiles/tile_store";
import { formatCode } from "../wire/decode";
import type { HeadRef, Window } from "../wire/protocol";
import type { Axis, Span } from "../wire/types";
import { drawTrackBand, IMAGE_BAND_PX } from "./image_band";
import { drawTrackMatches } from "./search_marks";
import { StripKeys } from "./strip_keys";
import type { Matches } from "./token_search";
import { NO_MATCHES } from "./token_search";
import type { StripEvents, StripVector, TokenStrip } from "./token_strip";

/** Row tiles are this many blocks wide (one row: 8 KiB of codes). */
export const ROW_TILE_SIDE = 4096;
const TRACK_H = 30;
const TOP = 16; // span names above the track
const MIN_WORD_PX = 34; // write a key's token inside it from this width on

interface Shown {
  values: ArrayLike<number>;
  codes: ArrayLike<number>;
  where: Uint32Array | null;
  k0: number; // first key of the first block
  block: number;
  scale: ColorScale;
  name: string;
  title: string;
}

export class TrackView implements TokenStrip {
  readonly canvas: HTMLCanvasElement;
  readonly el: HTMLDivElement;
  private readonly caption: HTMLDivElement;
  /** The line above the view saying what it shows (figures copy it). */
  get captionEl(): HTMLDivElement {
    return this.caption;
  }
  private querySelected = false;
  private rows: Axis = { tokens: [], special: [], generated: [] };
  private cols: Axis = { tokens: [], special: [], generated: [] };
  private head: HeadRef | null = null;
  private scale: ColorScale | null = null;
  private valueName = "weight";
  private vector: StripVector | null = null;
  private vectorWanted = false;
  private spans: Span[] = [];
  private query = 0;
  private key = -1;
  private col0 = 0;
  private cols_ = 0;
  private width = 600;
  private plot = { x: 0, y: TOP, w: 0, h: TRACK_H };
  private needed: TileSpec[] = [];
  private shownNow: Shown | null = null;
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
    this.el = document.createElement("div");
    this.el.className = "attn-track";
    this.caption = document.createElement("div");
    this.caption.className = "attn-track-caption";
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("role", "img");
    this.el.append(this.caption, this.canvas);
    container.appendChild(this.el);
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), { signal });
    this.canvas.addEventListener("pointerleave", () => this.tooltip.hide(), { signal });
    this.canvas.addEventListener("pointerleave", () => this.events.hover?.(-1), { signal });
    this.canvas.addEventListener("click", (e) => this.onClick(e), { signal });
    const host = {
      size: () => this.cols.tokens.length,
      perLine: () => 1,
      page: () => Math.max(1, this.cols_ || this.cols.tokens.length),
      selected: () => ({ query: this.query, chosen: this.querySelected, key: this.key }),
      lines: (k: number) => this.linesAt(k),
      cellBox: (k: number) => this.cellBox(k),
      mark: (k: number) => {
        this.focused = k;
        if (k >= 0 && (k < this.col0 || k >= this.col0 + (this.cols_ || this.cols.tokens.length))) this.events.reveal?.(k);
        this.draw();
      },
    };
    new StripKeys(this.canvas, host, events, tooltip, signal);
  }

  /** The tokens a search found: ticks above the track. */
  setMatches(matches: Matches): void {
    this.matches = matches;
  }

  /** Key k's column of the track in client pixels, or null when it is out of view. */
  private cellBox(k: number): ClientBox | null {
    const cols = this.cols_ || this.cols.tokens.length;
    if (k < this.col0 || k >= this.col0 + cols) return null;
    const box = this.canvas.getBoundingClientRect();
    const left = box.left + this.plot.x + ((k - this.col0) * this.plot.w) / cols;
    const top = box.top + this.plot.y;
    return { left, top, right: left + this.plot.w / cols, bottom: top + TRACK_H };
  }

  setAxes(rows: Axis, cols: Axis): void {
    this.rows = rows;
    this.cols = cols;
  }

  setSpans(spans: Span[]): void {
    this.spans = spans;
  }

  setHead(head: HeadRef | null, scale: ColorScale | null, valueName = "weight"): void {
    this.head = head;
    this.scale = scale;
    this.valueName = valueName;
    this.updateCaption();
  }

  setVector(vector: StripVector | null, wanted: boolean): void {
    this.vector = vector;
    this.vectorWanted = wanted;
    this.updateCaption();
  }

  setSelection(query: number, key: number): void {
    this.query = query >= 0 ? query : Math.max(0, this.rows.tokens.length - 1);
    this.querySelected = query >= 0;
    this.key = key;
    this.updateCaption();
  }

  /** The heatmap's key range: the track shows the same keys. */
  setKeys(col0: number, cols: number): void {
    this.col0 = col0;
    this.cols_ = cols;
  }

  layout(maxWidth: number): void {
    this.width = Math.max(200, maxWidth);
  }

  get wanted(): TileSpec[] {
    return this.needed;
  }

  private updateCaption(): void {
    if (this.vectorWanted) {
      this.caption.textContent = this.vector ? this.vector.label : "computing…";
      return;
    }
    const what = this.valueName === "weight" ? "attention" : this.valueName;
    const hint = this.querySelected ? "" : " · no query selected, showing the last token: click a heatmap cell to choose";
    this.caption.textContent = `${what} from query ${this.query} ${describeToken(this.rows, this.query)} to the keys the heatmap shows${hint}`;
  }

  /** Draw on the view's canvas, or into `target` (an export: the same picture). */
  draw(target?: CanvasRenderingContext2D): void {
    const n = this.cols.tokens.length;
    if (n === 0) return;
    const theme = this.theme();
    const cols = this.cols_ || n;
    this.plot = { x: 0, y: TOP, w: Math.max(60, this.width - COLORBAR_WIDTH - 16), h: TRACK_H };
    const height = TOP + TRACK_H + 34;
    const ctx = target ?? sizeCanvas(this.canvas, this.plot.w + 12 + COLORBAR_WIDTH, height);
    if (!target) ctx.clearRect(0, 0, this.plot.w + 12 + COLORBAR_WIDTH, height);
    const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
    const b = blockFor(cols, cols, this.plot.w, this.plot.w, dpr); // keys per pixel: pooled by max when zoomed out
    this.canvas.dataset.window = `${this.col0},${this.col0 + cols}`;
    this.canvas.dataset.block = String(b);
    setPlotAttributes(this.canvas, this.plot, 1, cols);
    this.canvas.dataset.col0 = String(this.col0);
    const shown = this.shown(b, cols);
    this.shownNow = shown;
    const cellW = this.plot.w / cols;
    if (shown) {
      for (let i = 0; i < shown.values.length; i++) {
        const k = shown.k0 + i * shown.block;
        // tiles may reach past the window: clip to the plot so nothing lands under the colour bar
        const x0 = Math.max(this.plot.x, this.plot.x + (k - this.col0) * cellW);
        const x1 = Math.min(this.plot.x + this.plot.w, this.plot.x + (Math.min(n, k + shown.block) - this.col0) * cellW);
        if (x1 <= x0) continue;
        ctx.fillStyle = shown.scale.css(shown.values[i]);
        ctx.fillRect(Math.floor(x0), this.plot.y, Math.max(1, Math.ceil(x1) - Math.floor(x0)), TRACK_H);
      }
      drawColorbar(ctx, theme, this.plot.w + 12, 2, height - 6, shown.scale, shown.title);
    } else {
      ctx.fillStyle = "rgba(128,128,128,0.2)";
      ctx.fillRect(this.plot.x, this.plot.y, this.plot.w, TRACK_H);
    }
    ctx.strokeStyle = theme.muted;
    ctx.strokeRect(this.plot.x + 0.5, this.plot.y + 0.5, this.plot.w - 1, TRACK_H - 1);
    drawTrackBand(ctx, this.cols, this.plot.x, this.plot.y - IMAGE_BAND_PX - 1, this.plot.w, this.col0, cols); // where pictures sit
    this.drawKeys(ctx, theme, cellW, shown);
    this.drawSpans(ctx, theme, cellW);
    if (this.key >= this.col0 && this.key < this.col0 + cols) {
      strokeMark(ctx, theme, this.plot.x + (this.key - this.col0) * cellW, this.plot.y, Math.max(2, cellW), TRACK_H, 2);
    }
    drawTrackMatches(ctx, theme, this.matches, { x: this.plot.x, y: this.plot.y, w: this.plot.w, col0: this.col0, count: cols });
    if (!target && this.focused >= this.col0 && this.focused < this.col0 + cols) {
      strokeFocus(
        ctx,
        this.plot.x + (this.focused - this.col0) * cellW - 1,
        this.plot.y - 2,
        Math.max(2, cellW) + 2,
        TRACK_H + 4,
      );
    }
  }

  /** Words inside keys wide enough for them, else index ticks under the track. */
  private drawKeys(ctx: CanvasRenderingContext2D, theme: Theme, cellW: number, shown: Shown | null): void {
    const cols = this.cols_ || this.cols.tokens.length;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    if (cellW >= MIN_WORD_PX) {
      const measure = (s: string) => ctx.measureText(s).width;
      for (let k = this.col0; k < this.col0 + cols; k++) {
        ctx.font = font(theme, 11, this.cols.special[k] ? "italic" : "");
        const v = shown && shown.block === 1 ? shown.values[k - shown.k0] : undefined;
        ctx.fillStyle = v !== undefined && shown ? shown.scale.textColor(v) : theme.text;
        svgExtras(ctx).titleNext?.(this.cols.tokens[k]);
        ctx.fillText(
          fitText(this.cols.tokens[k], cellW - 6, measure),
          this.plot.x + (k - this.col0 + 0.5) * cellW,
          this.plot.y + TRACK_H / 2,
        );
      }
    }
    ctx.fillStyle = theme.muted;
    ctx.font = font(theme, 10);
    ctx.textBaseline = "top";
    for (const k of labelIndices(this.col0, cols, labelStep(cellW, 60))) {
      const x = this.plot.x + (k - this.col0 + 0.5) * cellW;
      ctx.fillRect(Math.round(x), this.plot.y + TRACK_H, 1, 4);
      ctx.fillText(String(k), x, this.plot.y + TRACK_H + 6);
    }
    ctx.textAlign = "left";
    ctx.fillText("key", this.plot.x, this.plot.y + TRACK_H + 20);
  }

  private drawSpans(ctx: CanvasRenderingContext2D, theme: Theme, cellW: number): void {
    const cols = this.cols_ || this.cols.tokens.length;
    ctx.strokeStyle = theme.text;
    ctx.fillStyle = theme.text;
    ctx.font = font(theme, 10, "600");
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (const span of this.spans) {
      const a = Math.max(span.start, this.col0);
      const b = Math.min(span.end, this.col0 + cols);
      if (a >= b) continue;
      const x0 = this.plot.x + (a - this.col0) * cellW + 1;
      const x1 = this.plot.x + (b - this.col0) * cellW - 1;
      ctx.beginPath();
      ctx.moveTo(x0 + 0.5, TOP - 1);
      ctx.lineTo(x0 + 0.5, TOP - 5.5);
      ctx.lineTo(x1 - 0.5, TOP - 5.5);
      ctx.lineTo(x1 - 0.5, TOP - 1);
      ctx.stroke();
      ctx.fillText(span.name, (x0 + x1) / 2, TOP - 6);
    }
  }

  /** What the track shows: the saliency vector pooled here, or the row's tiles from the store. */
  private shown(b: number, cols: number): Shown | null {
    const n = this.cols.tokens.length;
    const k0 = Math.floor(this.col0 / b) * b;
    const k1 = Math.min(n, this.col0 + cols);
    if (this.vectorWanted) {
      this.needed = [];
      const v = this.vector;
      if (!v) return null;
      const win: Window = [0, 1, k0, k1];
      const pooled = poolWindow(v.values, v.codes, n, win, 1, b, true);
      return {
        values: pooled.values,
        codes: pooled.codes,
        where: pooled.where,
        k0,
        block: b,
        scale: v.scale,
        name: v.valueName,
        title: v.shortName,
      };
    }
    if (!this.head || !this.scale) {
      this.needed = [];
      return null;
    }
    const span = ROW_TILE_SIDE * b;
    const specs: TileSpec[] = [];
    for (let t = Math.floor(k0 / span) * span; t < k1; t += span) {
      specs.push({ head: this.head, window: [this.query, this.query + 1, t, Math.min(n, t + span)], block: [1, b] });
    }
    this.needed = specs;
    const tiles = specs.map((s) => this.store.get(s));
    if (tiles.some((t) => !t)) return null;
    return this.join(tiles as Tile[], k0, b, this.scale);
  }

  private join(tiles: Tile[], k0: number, b: number, scale: ColorScale): Shown {
    const first = tiles[0].window[2];
    const total = tiles.reduce((n, t) => n + t.cols, 0);
    const values = new Float32Array(total);
    const codes = new Uint16Array(total);
    const where = b > 1 ? new Uint32Array(total) : null;
    let o = 0;
    for (const t of tiles) {
      values.set(t.values, o);
      codes.set(t.codes, o);
      if (where && t.where) where.set(t.where, o);
      o += t.cols;
    }
    const skip = (k0 - first) / b;
    const title = this.valueName === "weight" ? "weight" : `|${this.valueName}|`; // the track is short: a short label
    return {
      values: values.subarray(skip),
      codes: codes.subarray(skip),
      where: where ? where.subarray(skip) : null,
      k0,
      block: b,
      scale,
      name: this.valueName,
      title,
    };
  }

  private keyAt(e: MouseEvent): number {
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left - this.plot.x;
    const y = e.clientY - box.top;
    const cols = this.cols_ || this.cols.tokens.length;
    if (x < 0 || x >= this.plot.w || y < this.plot.y || y >= this.plot.y + TRACK_H) return -1;
    return this.col0 + Math.min(cols - 1, Math.floor((x / this.plot.w) * cols));
  }

  private onMove(e: PointerEvent): void {
    const k = this.keyAt(e);
    this.events.hover?.(k);
    if (k < 0) this.tooltip.hide();
    else this.tooltip.show(this.linesAt(k), e.clientX, e.clientY, "strip");
  }

  /** What the tooltip says about key k (the block around it when keys are pooled). */
  private linesAt(k: number): string[] {
    const lines = this.vectorWanted ? [] : [`query ${this.query} ${describeToken(this.rows, this.query)}`];
    const shown = this.shownNow;
    const i = shown ? Math.floor((k - shown.k0) / shown.block) : -1;
    if (!shown || i < 0 || i >= shown.values.length) {
      lines.push(`key ${k} ${describeToken(this.cols, k)}`, this.vectorWanted ? "computing…" : "loading…");
    } else {
      if (shown.block === 1) {
        lines.push(`key ${k} ${describeToken(this.cols, k)}`, `${shown.name} ${formatCode(shown.codes[i])}`);
      } else {
        const a = shown.k0 + i * shown.block;
        const b = Math.min(this.cols.tokens.length, a + shown.block) - 1;
        const at = a + (shown.where ? shown.where[i] % shown.block : 0);
        lines.push(
          `keys ${a}–${b} (${b - a + 1} keys)`,
          `largest ${this.vectorWanted ? "|value|" : shown.name} ${formatCode(shown.codes[i])} at key ${at} ${describeToken(this.cols, at)}`,
          "zoom the heatmap in for single keys",
        );
      }
    }
    for (const span of this.spans) if (k >= span.start && k < span.end) lines.push(`in span ${JSON.stringify(span.name)}`);
    return lines;
  }

  private onClick(e: MouseEvent): void {
    const k = this.keyAt(e);
    if (k >= 0) this.events.select(this.query, k === this.key ? -1 : k);
  }
}
