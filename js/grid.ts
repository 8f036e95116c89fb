// The layer x head grid: rows = layers, columns = heads, each cell coloured by the chosen per-head
// score, the selected head outlined. Hover shows the exact score; click selects the head.
import type { Theme } from "./canvas";
import { clearCanvas, font, layeredCanvas, setPlotAttributes, sizeCanvas, strokeMark } from "./canvas";
import { COLORBAR_WIDTH, drawColorbar } from "./colorbar";
import type { ColorScale } from "./colormap";
import { extentScale } from "./colormap";
import { formatCode } from "./decode";
import type { Cell, Rect } from "./layout";
import { cellAt, cellRect, fullWindow, labelIndices, labelStep } from "./layout";
import type { Tooltip } from "./tooltip";

/** While the kernel refines the scores: each head's standard error (dec3), which heads are exact,
 * which estimates are lower bounds (a maximum over sampled rows), and the sample size. */
export interface GridEstimate {
  errors: Uint16Array;
  exact: Uint8Array | null;
  lowerBound: Uint8Array | null;
  sample: number;
  rows: number;
}

export interface GridData {
  nLayers: number;
  nHeads: number;
  codes: Uint16Array; // dec3, row-major (layer, head)
  values: Float32Array;
  metricLabel: string;
  estimate: GridEstimate | null; // null: every score is exact
}

export interface GridEvents {
  select(layer: number, head: number): void;
  preview(layer: number, head: number): void; // hovered long enough to be worth prefetching
}

const LEFT = 42; // layer title + indices
const TOP = 34; // head title + indices

export class GridView {
  readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private data: GridData | null = null;
  private scale: ColorScale | null = null;
  private layer = 0;
  private head = 0;
  private hover: Cell | null = null;
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
    const opts = { signal };
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    this.canvas.addEventListener("pointerleave", () => this.onLeave(), opts);
    this.canvas.addEventListener("click", (e) => this.onClick(e), opts);
    signal.addEventListener("abort", () => clearTimeout(this.previewTimer));
  }

  setData(data: GridData): void {
    this.data = data;
    this.scale = extentScale(data.values);
    this.canvas.setAttribute("aria-label", `layer x head grid coloured by ${data.metricLabel}`);
  }

  setSelection(layer: number, head: number): void {
    this.layer = layer;
    this.head = head;
  }

  /** Fit the cells to the width available (between 12 and 28 CSS pixels each); returns the
   * width the grid will take. */
  layout(maxWidth: number): number {
    const nHeads = this.data?.nHeads ?? 12;
    const room = maxWidth - LEFT - COLORBAR_WIDTH - 10;
    this.cellPx = Math.max(12, Math.min(28, Math.floor(room / nHeads)));
    return LEFT + nHeads * this.cellPx + 10 + COLORBAR_WIDTH;
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
    const width = this.layout(LEFT + nHeads * c + 10 + COLORBAR_WIDTH);
    const height = TOP + this.plot.h + 8;
    const ctx = target ?? sizeCanvas(this.canvas, width, height);
    if (!target) {
      sizeCanvas(this.overlay, width, height);
      ctx.clearRect(0, 0, width, height);
    }
    for (let l = 0; l < nLayers; l++) {
      for (let h = 0; h < nHeads; h++) {
        ctx.fillStyle = scale.css(data.values[l * nHeads + h]);
        ctx.fillRect(LEFT + h * c, TOP + l * c, c, c);
      }
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
    const sel = cellRect(this.plot, fullWindow(nLayers, nHeads), this.layer, this.head);
    if (sel) strokeMark(ctx, theme, sel.x, sel.y, sel.w, sel.h, 3);
    drawColorbar(ctx, theme, LEFT + this.plot.w + 10, TOP, Math.max(this.plot.h, 60), scale, "");
    if (target) return;
    setPlotAttributes(this.canvas, this.plot, nLayers, nHeads);
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
    const r = cellRect(this.plot, fullWindow(this.data.nLayers, this.data.nHeads), this.hover.row, this.hover.col);
    if (!r) return;
    ctx.strokeStyle = this.theme().text;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(r.x + 0.75, r.y + 0.75, r.w - 1.5, r.h - 1.5);
  }

  private cellOf(e: MouseEvent): Cell | null {
    if (!this.data) return null;
    const box = this.canvas.getBoundingClientRect();
    return cellAt(this.plot, fullWindow(this.data.nLayers, this.data.nHeads), e.clientX - box.left, e.clientY - box.top);
  }

  private onMove(e: PointerEvent): void {
    const cell = this.cellOf(e);
    const data = this.data;
    if (!cell || !data) {
      this.onLeave();
      return;
    }
    const i = cell.row * data.nHeads + cell.col;
    this.tooltip.show([`layer ${cell.row} · head ${cell.col}`, ...describeScore(data, i)], e.clientX, e.clientY, "grid");
    if (this.hover?.row !== cell.row || this.hover?.col !== cell.col) {
      this.hover = cell;
      this.drawOverlay();
      clearTimeout(this.previewTimer);
      this.previewTimer = setTimeout(() => this.events.preview(cell.row, cell.col), 120);
    }
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
    if (cell) this.events.select(cell.row, cell.col);
  }
}

/** The tooltip lines for score i: exact, or an estimate with its standard error and sample. */
export function describeScore(data: GridData, i: number): string[] {
  const est = data.estimate;
  const value = formatCode(data.codes[i]);
  if (!est?.exact || est.exact[i]) return [`${data.metricLabel}: ${value}`];
  const sample = `${est.sample} of ${est.rows} query rows`;
  if (est.lowerBound?.[i]) {
    return [
      `${data.metricLabel}: ≥ ${value} (estimate)`,
      `largest over ${sample} sampled: a lower bound`,
      "exact value on its way",
    ];
  }
  return [
    `${data.metricLabel}: ≈ ${value} (estimate)`,
    `standard error ${formatCode(est.errors[i])}, from ${sample}`,
    "exact value on its way",
  ];
}
