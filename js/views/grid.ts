// The layer x head grid: rows = layers, columns = heads, each cell coloured by the chosen per-head
// score, the selected head outlined. Hover shows the exact score; click selects the head. Set apart
// by a gap, a "mean" column (each layer's mean over heads: head = -1), a "mean" row (each head's
// mean over layers: layer = -1) and their corner (every head): their scores are the means of the
// cells they cover, and selecting one shows the mean attention matrix Python computes. With the
// keyboard (keyboard_nav.ts) the arrows move a focused cell, drawn like the hovered one, whose
// tooltip is shown and read out; Enter or Space selects its head.
import type { Theme } from "../draw/canvas";
import { clearCanvas, font, layeredCanvas, setPlotAttributes, sizeCanvas, strokeMark } from "../draw/canvas";
import { COLORBAR_WIDTH, drawColorbar } from "../draw/colorbar";
import type { ColorScale } from "../draw/colormap";
import { extentScale } from "../draw/colormap";
import type { Cell, Rect } from "../draw/layout";
import { cellAt, fullWindow, labelIndices, labelStep } from "../draw/layout";
import type { Tooltip } from "../draw/tooltip";
import type { GridData, GridProgress } from "./grid_data";
import { describeAggregate, describeScore } from "./grid_data";
import { intentOf, makeFocusable, spoken, stepHead } from "./keyboard_nav";

export interface GridCell {
  layer: number;
  head: number;
}

export interface GridEvents {
  select(layer: number, head: number): void;
  preview(layer: number, head: number): void; // hovered long enough to be worth prefetching
}

const LEFT = 42; // layer title + indices
const TOP = 34; // head title + indices
const GAP = 7; // sets the aggregates apart from the heads

export class GridView {
  readonly canvas: HTMLCanvasElement;
  /** The line under the grid while the kernel refines the scores (figures copy it). */
  readonly statusEl: HTMLDivElement;
  private readonly overlay: HTMLCanvasElement;
  private data: GridData | null = null;
  private scale: ColorScale | null = null;
  private layer = 0;
  private head = 0;
  private hover: GridCell | null = null;
  private focused: GridCell | null = null; // the keyboard's cell while the canvas has focus
  private cellPx = 22;
  private plot: Rect = { x: LEFT, y: TOP, w: 0, h: 0 };
  private previewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    container: HTMLElement,
    private readonly theme: () => Theme,
    private readonly tooltip: Tooltip,
    private readonly events: GridEvents,
    signal: AbortSignal,
  ) {
    ({ canvas: this.canvas, overlay: this.overlay } = layeredCanvas(container, "attn-grid", "layer x head grid"));
    this.statusEl = document.createElement("div");
    this.statusEl.className = "attn-grid-status";
    this.statusEl.dataset.testid = "attn-grid-status";
    container.appendChild(this.statusEl);
    const opts = { signal };
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.onLeave(), opts);
    this.canvas.addEventListener("click", (e) => this.onClick(e), opts);
    makeFocusable(this.canvas, "layer by head grid");
    this.canvas.addEventListener("keydown", (e) => this.onKey(e), opts);
    this.canvas.addEventListener("focus", () => this.focusCell(this.focused ?? { layer: this.layer, head: this.head }), opts);
    this.canvas.addEventListener(
      "blur",
      () => {
        this.focused = null;
        this.onLeave();
      },
      opts,
    );
    signal.addEventListener("abort", () => clearTimeout(this.previewTimer));
  }

  setData(data: GridData, progress: GridProgress): void {
    this.data = data;
    this.scale = extentScale(data.values);
    this.canvas.setAttribute(
      "aria-label",
      `layer x head grid coloured by ${data.metricLabel}: arrow keys move between heads, Enter selects one`,
    );
    this.statusEl.textContent = progress.line;
    this.statusEl.dataset.done = String(progress.done);
    this.statusEl.dataset.total = String(progress.total);
  }

  setSelection(layer: number, head: number): void {
    this.layer = layer;
    this.head = head;
  }

  /** Fit the cells to the width available (between 12 and 28 CSS pixels each); returns the
   * width the grid will take. */
  layout(maxWidth: number): number {
    const nHeads = this.data?.nHeads ?? 12;
    const room = maxWidth - LEFT - GAP - COLORBAR_WIDTH - 10;
    this.cellPx = Math.max(12, Math.min(28, Math.floor(room / (nHeads + 1))));
    return LEFT + (nHeads + 1) * this.cellPx + GAP + 10 + COLORBAR_WIDTH;
  }

  /** Where a cell is drawn: heads in the plot, aggregates past the gap (right column, bottom row). */
  private rectOf(layer: number, head: number): Rect {
    const c = this.cellPx;
    const x = head < 0 ? LEFT + this.plot.w + GAP : LEFT + head * c;
    const y = layer < 0 ? TOP + this.plot.h + GAP : TOP + layer * c;
    return { x, y, w: c, h: c };
  }

  /** The value index of a cell: heads, then per-layer means, per-head means and the overall. */
  private valueOf(data: GridData, layer: number, head: number): { value: number; code: number; none: boolean } | null {
    if (layer >= 0 && head >= 0) {
      const i = layer * data.nHeads + head;
      return { value: data.values[i], code: data.codes[i], none: !!data.undefinedHeads?.[i] };
    }
    const a = data.aggregates;
    if (!a) return null;
    const i = head < 0 && layer < 0 ? data.nLayers + data.nHeads : head < 0 ? layer : data.nLayers + head;
    return { value: a.values[i], code: a.codes[i], none: !!a.undefined?.[i] };
  }

  /** Draw on the view's canvas, or into `target` (an export: the same picture, no overlay). */
  draw(target?: CanvasRenderingContext2D): void {
    const data = this.data;
    const scale = this.scale;
    if (!data || !scale) return;
    const theme = this.theme();
    const { nLayers, nHeads } = data;
    const c = this.cellPx;
    this.plot = { x: LEFT, y: TOP, w: nHeads * c, h: nLayers * c };
    const width = LEFT + (nHeads + 1) * c + GAP + 10 + COLORBAR_WIDTH;
    const height = TOP + this.plot.h + GAP + c + 8;
    const ctx = target ?? sizeCanvas(this.canvas, width, height);
    if (!target) {
      sizeCanvas(this.overlay, width, height);
      ctx.clearRect(0, 0, width, height);
    }
    const paint = (l: number, h: number) => {
      const cell = this.valueOf(data, l, h);
      if (!cell) return;
      const r = this.rectOf(l, h);
      if (cell.none) ctx.clearRect(r.x, r.y, r.w, r.h);
      else {
        ctx.fillStyle = scale.css(cell.value);
        ctx.fillRect(r.x, r.y, r.w, r.h);
      }
      if (cell.none) {
        // no value (a detector defined on no row here): a struck-out empty cell
        ctx.strokeStyle = theme.muted;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(r.x + 3, r.y + r.h - 3);
        ctx.lineTo(r.x + r.w - 3, r.y + 3);
        ctx.stroke();
      }
    };
    for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) paint(l, h);
    if (data.aggregates) {
      for (let l = 0; l < nLayers; l++) paint(l, -1);
      for (let h = 0; h < nHeads; h++) paint(-1, h);
      paint(-1, -1);
    }
    const est = data.estimate;
    if (est?.exact) {
      // a small hollow ring marks a score that is still an estimate
      ctx.lineWidth = 1;
      for (let l = 0; l < nLayers; l++) {
        for (let h = 0; h < nHeads; h++) {
          if (est.exact[l * nHeads + h]) continue;
          ctx.strokeStyle = scale.textColor(data.values[l * nHeads + h]);
          ctx.beginPath();
          ctx.arc(LEFT + h * c + c - 5, TOP + l * c + 5, 2, 0, 2 * Math.PI);
          ctx.stroke();
        }
      }
    }
    // Thin gaps keep neighbouring cells of equal colour apart.
    ctx.strokeStyle = "rgba(128,128,128,0.25)";
    ctx.lineWidth = 1;
    for (let h = 1; h < nHeads; h++) ctx.strokeRect(LEFT + h * c, TOP, 0, this.plot.h);
    for (let l = 1; l < nLayers; l++) ctx.strokeRect(LEFT, TOP + l * c, this.plot.w, 0);
    this.drawAxes(ctx, theme);
    const sel = this.rectOf(this.layer, this.head);
    strokeMark(ctx, theme, sel.x, sel.y, sel.w, sel.h, 3);
    drawColorbar(ctx, theme, LEFT + this.plot.w + GAP + c + 10, TOP, Math.max(this.plot.h, 60), scale, "");
    if (target) return;
    setPlotAttributes(this.canvas, this.plot, nLayers, nHeads);
    // where the aggregates sit, for tests: the mean column's left edge, the mean row's top edge
    this.canvas.dataset.meanColumn = String(LEFT + this.plot.w + GAP);
    this.canvas.dataset.meanRow = String(TOP + this.plot.h + GAP);
    this.drawOverlay();
  }

  private drawAxes(ctx: CanvasRenderingContext2D, theme: Theme): void {
    const data = this.data;
    if (!data) return;
    const c = this.cellPx;
    ctx.fillStyle = theme.text;
    ctx.font = font(theme, 10);
    const step = labelStep(c, 14);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (const h of labelIndices(0, data.nHeads, step)) ctx.fillText(String(h), LEFT + (h + 0.5) * c, TOP - 3);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const l of labelIndices(0, data.nLayers, labelStep(c, 12))) ctx.fillText(String(l), LEFT - 5, TOP + (l + 0.5) * c);
    if (data.aggregates) {
      ctx.fillText("mean", LEFT - 5, TOP + this.plot.h + GAP + c / 2);
      ctx.save();
      ctx.translate(LEFT + this.plot.w + GAP + c / 2, TOP - 3);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText("mean", 0, 0);
      ctx.restore();
    }
    ctx.font = font(theme, 11, "600");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText("head", LEFT + this.plot.w / 2, 2);
    ctx.save();
    ctx.translate(10, TOP + this.plot.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText("layer", 0, 0);
    ctx.restore();
  }

  private drawOverlay(): void {
    const ctx = clearCanvas(this.overlay);
    if (!ctx || !this.data || !this.hover) return;
    const r = this.rectOf(this.hover.layer, this.hover.head);
    const w = this.focused ? 2.5 : 1.5; // the keyboard's cell stands out more than the pointer's
    ctx.strokeStyle = this.theme().text;
    ctx.lineWidth = w;
    ctx.strokeRect(r.x + w / 2, r.y + w / 2, r.w - w, r.h - w);
  }

  private cellOf(e: MouseEvent): GridCell | null {
    const data = this.data;
    if (!data) return null;
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    const cell: Cell | null = cellAt(this.plot, fullWindow(data.nLayers, data.nHeads), x, y);
    if (cell) return { layer: cell.row, head: cell.col };
    if (!data.aggregates) return null;
    const c = this.cellPx;
    const inColumn = x >= LEFT + this.plot.w + GAP && x < LEFT + this.plot.w + GAP + c;
    const inRow = y >= TOP + this.plot.h + GAP && y < TOP + this.plot.h + GAP + c;
    const layer = inRow ? -1 : Math.floor((y - TOP) / c);
    const head = inColumn ? -1 : Math.floor((x - LEFT) / c);
    if (!(inColumn || inRow) || layer >= data.nLayers || head >= data.nHeads) return null;
    if ((!inRow && layer < 0) || (!inColumn && head < 0)) return null;
    return { layer, head };
  }

  private onMove(e: PointerEvent): void {
    const cell = this.cellOf(e);
    const data = this.data;
    if (!cell || !data) {
      this.onLeave();
      return;
    }
    const { layer, head } = cell;
    this.tooltip.show(this.linesOf(data, layer, head), e.clientX, e.clientY, "grid");
    if (this.hover?.layer !== layer || this.hover?.head !== head) {
      this.hover = cell;
      this.drawOverlay();
      clearTimeout(this.previewTimer);
      this.previewTimer = setTimeout(() => this.events.preview(layer, head), 120);
    }
  }

  /** What the tooltip says about a cell (a head, or an aggregate). */
  private linesOf(data: GridData, layer: number, head: number): string[] {
    return layer >= 0 && head >= 0
      ? [`layer ${layer} · head ${head}`, ...describeScore(data, layer * data.nHeads + head)]
      : describeAggregate(data, layer, head, this.valueOf(data, layer, head));
  }

  private onKey(e: KeyboardEvent): void {
    const data = this.data;
    const intent = intentOf(e);
    if (!data || !intent || intent === "zoomIn" || intent === "zoomOut") return;
    e.preventDefault(); // Space would scroll the page, the arrows the output area
    e.stopPropagation(); // and the notebook's own shortcuts (arrows, Enter, Escape) stay out
    const kept = this.focused && this.focused.layer < data.nLayers && this.focused.head < data.nHeads; // a kind switch
    const at = kept && this.focused ? this.focused : { layer: this.layer, head: this.head };
    if (intent === "select") this.events.select(at.layer, at.head);
    else if (intent === "clear")
      this.focusCell({ layer: this.layer, head: this.head }); // back to the selected head
    else this.focusCell(stepHead(intent, at, data.nLayers, data.nHeads, !!data.aggregates));
  }

  /** Focus a cell with the keyboard: mark it, show its tooltip beside it and read it out. */
  private focusCell(cell: GridCell): void {
    const data = this.data;
    if (!data) return;
    this.focused = cell;
    this.hover = cell;
    this.drawOverlay();
    const lines = this.linesOf(data, cell.layer, cell.head);
    const r = this.rectOf(cell.layer, cell.head);
    const box = this.canvas.getBoundingClientRect();
    const [left, top] = [box.left + r.x, box.top + r.y];
    this.tooltip.showBeside(lines, { left, top, right: left + r.w, bottom: top + r.h }, "grid");
    this.tooltip.announce(spoken(lines));
  }

  private onLeave(): void {
    this.tooltip.hide();
    clearTimeout(this.previewTimer);
    if (this.hover) {
      this.hover = null;
      this.drawOverlay();
    }
  }

  private onClick(e: MouseEvent): void {
    const cell = this.cellOf(e);
    if (cell) this.events.select(cell.layer, cell.head);
  }
}
