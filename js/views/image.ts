// The image panel, beside the heatmap: the input's picture with the strip's numbers drawn over
// its patches (image_row.ts), on the heatmap's colour scale, at the opacity the slider sets. One
// view of one picture at a time (patches.ts): a control switches between pictures and between
// views that cover the same pixels (a tiled model's global image). Hovering a patch says its
// number; clicking it makes it the query (where it looks), or the key for a kind whose queries
// are text. Hovering a heatmap row or a word elsewhere previews that row here.
import type { Theme } from "../draw/canvas";
import { clearCanvas, context2d, layeredCanvas, setPlotAttributes, sizeCanvas, strokeMark } from "../draw/canvas";
import { COLORBAR_WIDTH, drawColorbar } from "../draw/colorbar";
import type { ColorScale } from "../draw/colormap";
import type { Rect } from "../draw/layout";
import type { Tooltip } from "../draw/tooltip";
import type { TileSpec, TileStore } from "../tiles/tile_store";
import type { WirePicture } from "../wire/image_wire";
import { picturesOf } from "../wire/image_wire";
import type { HeadRef } from "../wire/protocol";
import type { Axis, WidgetState } from "../wire/types";
import { boxRect, outlineHover, paintRaster, paintRects, tokenRange } from "./image_paint";
import type { RowNumbers, StripState } from "./image_row";
import { rowNumbers } from "./image_row";
import { describePatch, imageCaption } from "./image_words";
import { PatchIndex, viewLabels } from "./patches";
import type { QueriesRow } from "./strip";
import type { StripVector } from "./token_strip";

export interface ImageEvents {
  /** A patch was clicked on a kind whose queries are patches: show where it looks (-1: clear). */
  selectQuery(query: number): void;
  /** A patch was clicked on a kind whose queries are text (cross-attention): select (the query
   * shown, or -1 when none is selected; this key), as a click on the strip does. */
  select(query: number, key: number): void;
  /** Something the panel shows changed on its own (a decoded picture, a control, a preview). */
  changed(): void;
}

const MAX_PLOT_H = 420;
const INSET = 6; // room for the outline of an edge patch and the colour bar's end ticks
const DEFAULT_OPACITY = 0.6;

/** Widths for the heatmap and the image panel in a widget `width` wide whose grid takes
 * `gridWidth`: the panel beside the heatmap when both keep room, else on a line of its own. */
export function panelWidths(width: number, gridWidth: number, hasImage: boolean): { heat: number; image: number } {
  const room = width - gridWidth;
  if (!hasImage) return { heat: room >= 300 ? room : width, image: 0 };
  const beside = Math.min(440, Math.max(260, room * 0.42));
  if (room - beside - 20 >= 400) return { heat: room - beside - 20, image: beside };
  return { heat: room >= 300 ? room : width, image: Math.min(560, width) };
}

export class ImageView {
  readonly el: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly captionEl: HTMLDivElement;
  private readonly overlay: HTMLCanvasElement;
  private readonly viewSelect: HTMLSelectElement;
  private readonly opacityInput: HTMLInputElement;
  private payload: unknown = null; // the _images payload decoded last (decoded once)
  private pictures: WirePicture[] = [];
  private decoded: (HTMLCanvasElement | null)[] = [];
  private rows: Axis = { tokens: [], special: [], generated: [] };
  private cols: Axis = { tokens: [], special: [], generated: [] };
  private keys: PatchIndex | null = null;
  private view = 0;
  private opacity = DEFAULT_OPACITY;
  private strip: StripState = {
    head: null,
    scale: null,
    valueName: "weight",
    query: 0,
    queriesRow: null,
    vector: null,
    vectorWanted: false,
    nKeys: 0,
  };
  private querySelected = false;
  private selectedKey = -1;
  private previewRow = -1; // a heatmap row or a word under the pointer elsewhere
  private previewKey = -1; // a key under the pointer elsewhere: its patch is outlined
  private hoverRow = -1; // the patch map row under the pointer here
  private numbers: RowNumbers | null = null;
  private needed: TileSpec[] = [];
  private plot: Rect = { x: 0, y: 0, w: 0, h: 0 };
  private maxWidth = 400;
  private painted = false;
  private readonly raster = document.createElement("canvas");

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: ImageEvents,
    private readonly store: TileStore,
    private readonly signal: AbortSignal,
  ) {
    this.el = document.createElement("div");
    this.el.className = "attn-image-panel";
    this.el.hidden = true;
    const title = document.createElement("div");
    title.className = "attn-image-title";
    title.textContent = "picture";
    const controls = document.createElement("div");
    controls.className = "attn-image-controls";
    this.viewSelect = document.createElement("select");
    this.viewSelect.dataset.testid = "attn-image-view";
    this.viewSelect.title = "which picture, or which view of it (views that cover the same pixels are drawn one at a time)";
    this.opacityInput = document.createElement("input");
    this.opacityInput.type = "range";
    this.opacityInput.min = "0";
    this.opacityInput.max = "100";
    this.opacityInput.value = String(Math.round(DEFAULT_OPACITY * 100));
    this.opacityInput.dataset.testid = "attn-image-opacity";
    this.opacityInput.title = "how strongly the numbers cover the picture";
    const opacity = document.createElement("label");
    opacity.append("overlay ", this.opacityInput);
    controls.append(this.viewSelect, opacity);
    this.captionEl = document.createElement("div");
    this.captionEl.className = "attn-image-caption";
    this.el.append(title, controls, this.captionEl);
    container.appendChild(this.el);
    ({ canvas: this.canvas, overlay: this.overlay } = layeredCanvas(this.el, "attn-image", "the input's picture"));
    const opts = { signal };
    this.viewSelect.addEventListener("change", () => this.showView(Number(this.viewSelect.value)), opts);
    this.opacityInput.addEventListener("input", () => this.setOpacity(Number(this.opacityInput.value) / 100), opts);
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.onLeave(), opts);
    this.canvas.addEventListener("click", (e) => this.onClick(e), opts);
  }

  /** True when the widget has pictures (the panel is on screen). */
  get shown(): boolean {
    return this.pictures.length > 0;
  }

  /** The input's pictures (the _images trait): decoded once, off the main path. */
  setPictures(payload: WidgetState["_images"] | undefined): void {
    if (payload === this.payload) return;
    this.payload = payload;
    this.pictures = picturesOf(payload);
    this.decoded = this.pictures.map(() => null);
    this.el.hidden = this.pictures.length === 0;
    this.pictures.forEach((picture, i) => void this.decode(picture, i));
  }

  private async decode(picture: WirePicture, i: number): Promise<void> {
    const bitmap = await createImageBitmap(new Blob([picture.bytes as Uint8Array<ArrayBuffer>], { type: picture.mime }));
    if (this.signal.aborted || this.pictures[i] !== picture) return;
    // a canvas, not the bitmap: an SVG export reads its pixels back (svg_context.ts)
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    context2d(canvas).drawImage(bitmap, 0, 0);
    bitmap.close();
    this.decoded[i] = canvas;
    this.events.changed();
  }

  /** The axes of the kind shown: its keys' patches are what the panel colours. */
  setAxes(rows: Axis, cols: Axis): void {
    this.rows = rows;
    this.cols = cols;
    this.strip.nKeys = cols.tokens.length;
    if (this.keys?.map !== cols.patches) {
      this.keys = cols.patches ? new PatchIndex(cols.patches, cols.tokens) : null;
      const labels = viewLabels(this.keys?.views ?? []);
      this.viewSelect.replaceChildren(...labels.map((label, i) => new Option(label, String(i))));
      this.viewSelect.hidden = labels.length < 2;
      this.view = Math.min(this.view, Math.max(0, labels.length - 1));
      this.viewSelect.value = String(this.view);
    }
  }

  setHead(head: HeadRef | null, scale: ColorScale | null, valueName = "weight"): void {
    this.strip.head = head;
    this.strip.scale = scale;
    this.strip.valueName = valueName;
  }

  setVector(vector: StripVector | null, wanted: boolean): void {
    this.strip.vector = vector;
    this.strip.vectorWanted = wanted;
  }

  setQueriesRow(row: QueriesRow | null): void {
    this.strip.queriesRow = row;
  }

  /** The selection: the row shown is the query's (the last token's when none is selected). A
   * selected patch on another picture or view brings that one up. */
  setSelection(query: number, key: number): void {
    const queryMoved = query >= 0 && (query !== this.strip.query || !this.querySelected);
    const keyMoved = key >= 0 && key !== this.selectedKey;
    this.strip.query = query >= 0 ? query : Math.max(0, this.rows.tokens.length - 1);
    this.querySelected = query >= 0;
    this.selectedKey = key;
    const follow = keyMoved ? this.keys?.rowOf(key) : queryMoved && this.square ? this.keys?.rowOf(query) : -1;
    if (this.keys && follow !== undefined && follow >= 0) this.showView(this.keys.viewOf(follow), false);
  }

  /** The pointer rests on heatmap cell (query, key) (-1, -1: it left): preview that row, outline
   * the key's patch. */
  preview(query: number, key: number): void {
    if (!this.shown || (query === this.previewRow && key === this.previewKey)) return;
    this.previewRow = query;
    this.previewKey = key;
    this.events.changed();
  }

  /** The pointer rests on a word of the strip or the track (-1: it left): a patch is outlined
   * where it sits; another word's own row is previewed (self-attention: it is also a query). */
  previewWord(key: number): void {
    const patch = key >= 0 && (this.keys?.rowOf(key) ?? -1) >= 0;
    this.preview(patch || !this.square ? -1 : key, key);
  }

  /** Self-attention: every key is also a query, at the same position. */
  private get square(): boolean {
    return this.rows === this.cols || this.rows.tokens === this.cols.tokens;
  }

  layout(maxWidth: number): void {
    this.maxWidth = Math.max(200, maxWidth);
    this.el.style.width = `${Math.round(this.maxWidth)}px`; // the caption wraps inside, never widens it
  }

  /** The row tiles the last draw needed. */
  get wanted(): TileSpec[] {
    return this.shown ? this.needed : [];
  }

  private showView(view: number, redraw = true): void {
    if (!this.keys || view === this.view || view < 0 || view >= this.keys.views.length) return;
    this.view = view;
    this.viewSelect.value = String(view);
    if (redraw) this.events.changed();
  }

  private setOpacity(opacity: number): void {
    this.opacity = opacity;
    this.opacityInput.value = String(Math.round(opacity * 100));
    this.events.changed();
  }

  /** The picture of the view shown (0 when the kind has no patches). */
  private get picture(): number {
    const v = this.keys?.views[this.view];
    return v && v.image < this.pictures.length ? v.image : 0;
  }

  /** Draw on the panel's canvas, or into `target` (an export: the same picture; `vector`: an
   * SVG, whose patches are rectangles). */
  draw(target?: CanvasRenderingContext2D, vector = false): void {
    if (!this.shown) return;
    const theme = this.theme();
    const index = this.picture;
    const picture = this.pictures[index];
    const room = this.maxWidth - COLORBAR_WIDTH - 16 - INSET;
    const scale = Math.min(room / picture.width, MAX_PLOT_H / picture.height);
    const [w, h] = [Math.max(1, picture.width * scale), Math.max(1, picture.height * scale)];
    this.plot = { x: INSET, y: INSET, w, h };
    const width = INSET + w + 12 + COLORBAR_WIDTH;
    const height = Math.max(h, 120) + 2 * INSET;
    const view = this.keys?.views[this.view];
    const range = tokenRange(this.keys?.map, view?.rows ?? []);
    const { numbers, wanted } = rowNumbers(this.strip, this.store, view ? this.previewRow : -1, range);
    this.numbers = numbers;
    this.needed = view ? wanted : [];
    const ctx = target ?? sizeCanvas(this.canvas, width, height);
    if (!target) {
      sizeCanvas(this.overlay, width, height);
      ctx.clearRect(0, 0, width, height);
      this.setAttributes(picture, index, numbers);
    }
    const bitmap = this.decoded[index];
    ctx.save();
    ctx.imageSmoothingEnabled = true; // a photograph: smooth when scaled (the heatmap's tiles are not)
    if (bitmap) ctx.drawImage(bitmap, this.plot.x, this.plot.y, this.plot.w, this.plot.h);
    else {
      ctx.fillStyle = "rgba(128,128,128,0.2)";
      ctx.fillRect(this.plot.x, this.plot.y, this.plot.w, this.plot.h);
    }
    ctx.restore();
    if (numbers && view && this.keys) {
      const where = { plot: this.plot, picture, map: this.keys.map };
      if (vector) paintRects(ctx, where, view.rows, numbers, this.opacity);
      else paintRaster(ctx, where, view.rows, numbers, this.opacity, this.raster);
      drawColorbar(ctx, theme, INSET + w + 12, INSET, Math.max(h, 120), numbers.scale, numbers.title);
    }
    this.drawMarks(ctx, theme);
    this.captionEl.textContent = imageCaption(this.captionWords(numbers));
    if (!target) this.drawOverlay();
    if (!target && !this.painted && bitmap && (numbers || !view)) {
      this.painted = true;
      performance.mark("attn-widget:image-paint");
    }
  }

  private setAttributes(picture: WirePicture, index: number, numbers: RowNumbers | null): void {
    const d = this.canvas.dataset;
    setPlotAttributes(this.canvas, this.plot, picture.height, picture.width);
    d.imageSize = `${picture.width},${picture.height}`;
    d.image = String(index);
    d.view = String(this.view);
    d.opacity = String(this.opacity);
    d.shows = numbers ? numbers.drawn : "";
    d.row = String(numbers?.row ?? -1);
    d.complete = String(!!numbers && !!this.decoded[index]);
  }

  /** Map row `row`'s box in the plot's CSS pixels. */
  private box(row: number): Rect {
    return boxRect({ plot: this.plot, picture: this.pictures[this.picture], map: (this.keys as PatchIndex).map }, row);
  }

  /** The patch whose row is shown (the query that looks) and the selected key's, outlined. */
  private drawMarks(ctx: CanvasRenderingContext2D, theme: Theme): void {
    const looking = this.numbers?.row ?? -1;
    const mark = (token: number, width: number) => {
      const row = this.keys?.rowOf(token) ?? -1;
      if (row < 0 || this.keys?.viewOf(row) !== this.view) return;
      const r = this.box(row);
      strokeMark(ctx, theme, r.x, r.y, r.w, r.h, width);
    };
    if (looking >= 0 && this.square) mark(looking, 2);
    if (this.selectedKey >= 0) mark(this.selectedKey, 1);
  }

  /** Hover marks, on their own canvas: the patch under the pointer, and the key another view's
   * pointer rests on. */
  private drawOverlay(): void {
    const ctx = clearCanvas(this.overlay);
    if (!ctx || !this.keys) return;
    const theme = this.theme();
    for (const row of [this.hoverRow, this.keys.rowOf(this.previewKey)]) {
      if (row < 0 || this.keys.viewOf(row) !== this.view) continue;
      outlineHover(ctx, theme, this.box(row));
    }
  }

  private captionWords(numbers: RowNumbers | null) {
    return {
      rows: this.rows,
      numbers,
      strip: this.strip,
      querySelected: this.querySelected,
      hasPatches: !!this.keys,
      loading: !numbers && this.needed.length > 0,
      picture: this.pictures[this.picture],
      index: this.picture,
    };
  }

  /** The patch (map row) under the pointer in the view shown, or -1. */
  private patchAt(e: MouseEvent): number {
    if (!this.keys) return -1;
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left - this.plot.x;
    const y = e.clientY - box.top - this.plot.y;
    if (x < 0 || y < 0 || x >= this.plot.w || y >= this.plot.h) return -1;
    const picture = this.pictures[this.picture];
    return this.keys.at(this.view, (x / this.plot.w) * picture.width, (y / this.plot.h) * picture.height);
  }

  /** The query position of the patch `row` (itself in self-attention), or -1 when the kind's
   * queries hold no such patch (text queries). */
  private queryOf(row: number): number {
    if (!this.keys) return -1;
    if (this.square) return this.keys.map.token[row];
    const other = this.rows.patches;
    const j = other ? this.keys.sameBox(row, other) : -1;
    return j >= 0 && other ? other.token[j] : -1;
  }

  private onMove(e: PointerEvent): void {
    const row = this.patchAt(e);
    if (row !== this.hoverRow) {
      this.hoverRow = row;
      this.drawOverlay();
    }
    if (row < 0 || !this.keys) {
      this.tooltip.hide();
      return;
    }
    const lines = describePatch({
      keys: this.keys,
      row,
      numbers: this.numbers,
      rows: this.rows,
      strip: this.strip,
      query: this.queryOf(row),
      picture: this.pictures[this.picture],
    });
    this.tooltip.show(lines, e.clientX, e.clientY, "image");
  }

  private onLeave(): void {
    this.tooltip.hide();
    if (this.hoverRow >= 0) {
      this.hoverRow = -1;
      this.drawOverlay();
    }
  }

  private onClick(e: MouseEvent): void {
    const row = this.patchAt(e);
    if (row < 0 || !this.keys) return;
    const query = this.queryOf(row);
    const token = this.keys.map.token[row];
    if (query >= 0) this.events.selectQuery(this.querySelected && query === this.strip.query ? -1 : query);
    else this.events.select(this.querySelected ? this.strip.query : -1, token === this.selectedKey ? -1 : token);
  }
}
