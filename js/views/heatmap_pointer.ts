// What the pointer does on the heatmap: hover shows the tooltip and marks the cell; a click
// selects a cell (a second click clears it) or, on a query label, moves the saliency target;
// drag pans, the wheel zooms about the pointer, double-click resets; shift-click and shift-drag
// on the query axis or the cells select several queries. Every listener is tied to the signal.
import type { Cell, CellWindow } from "../draw/layout";
import { cellAt, panWindow, zoomWindow } from "../draw/layout";
import type { Tooltip } from "../draw/tooltip";
import type { Frame } from "./heatmap_paint";

export interface HeatmapEvents {
  select(query: number, key: number): void;
  windowChanged(win: CellWindow): void;
  /** A query label was clicked while saliency can be recomputed: predict after that token. */
  target(query: number): void;
  /** Shift-click or shift-drag on the query axis or the cells: these queries are selected. */
  queries(rows: number[]): void;
  /** The pointer rests on cell (query, key) (-1, -1: on none): the image panel previews it. */
  hover?(query: number, key: number): void;
}

/** What the pointer reads from the heatmap and asks of it. */
export interface PointerHost {
  frame(): Frame;
  /** The matrix's size: queries x keys. */
  size(): { nRows: number; nCols: number };
  /** The selected cell (-1: none). */
  selected(): { query: number; key: number };
  /** Whether clicking a query label moves the saliency target. */
  targetable(): boolean;
  cellLines(q: number, k: number): string[];
  labelLines(row: number): string[];
  /** Show this window (clamped), telling the app when it moved. */
  moveWindow(win: CellWindow): void;
  resetView(): void;
  /** Mark the cell under the pointer (null: none). */
  hover(cell: Cell | null): void;
  /** The rows of a shift-drag changed: draw them. */
  redraw(): void;
}

/** The rows from one end of a drag to the other, in order. */
export function rowsBetween(drag: { from: number; to: number }): number[] {
  const lo = Math.min(drag.from, drag.to);
  const hi = Math.max(drag.from, drag.to);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

export class HeatmapPointer {
  private drag: { x: number; y: number; win: CellWindow; moved: boolean } | null = null;
  private spanDrag: { from: number; to: number } | null = null; // shift-drag in progress

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly host: PointerHost,
    private readonly events: HeatmapEvents,
    private readonly tooltip: Tooltip,
    signal: AbortSignal,
  ) {
    const opts = { signal };
    canvas.addEventListener("pointermove", (e) => this.onMove(e), opts);
    canvas.addEventListener("pointerleave", () => this.onLeave(), opts);
    canvas.addEventListener("pointerdown", (e) => this.onDown(e), opts);
    canvas.addEventListener("pointerup", (e) => this.onUp(e), opts);
    canvas.addEventListener("wheel", (e) => this.onWheel(e), { signal, passive: false });
    canvas.addEventListener("dblclick", () => host.resetView(), opts);
  }

  /** The rows a shift-drag in progress covers, or null when none is under way. */
  get draggedRows(): number[] | null {
    return this.spanDrag ? rowsBetween(this.spanDrag) : null;
  }

  private pointerCell(e: MouseEvent): Cell | null {
    const { plot, win } = this.host.frame();
    const box = this.canvas.getBoundingClientRect();
    return cellAt(plot, win, e.clientX - box.left, e.clientY - box.top);
  }

  private onMove(e: PointerEvent): void {
    if (this.spanDrag) {
      const row = this.queryRowAt(e, true);
      if (row >= 0 && row !== this.spanDrag.to) {
        this.spanDrag.to = row;
        this.host.redraw();
      }
      return;
    }
    if (this.drag) {
      const { plot, win } = this.host.frame();
      const dx = Math.round((this.drag.x - e.clientX) / (plot.w / win.cols));
      const dy = Math.round((this.drag.y - e.clientY) / (plot.h / win.rows));
      if (Math.abs(this.drag.x - e.clientX) + Math.abs(this.drag.y - e.clientY) > 4) this.drag.moved = true;
      if (this.drag.moved) {
        this.tooltip.hide();
        const { nRows, nCols } = this.host.size();
        this.host.moveWindow(panWindow(this.drag.win, nRows, nCols, dy, dx));
        return;
      }
    }
    const cell = this.pointerCell(e);
    const labelRow = cell || !this.host.targetable() ? -1 : this.labelRowAt(e);
    this.canvas.style.cursor = labelRow >= 0 ? "pointer" : "";
    if (labelRow >= 0) {
      this.onLeave();
      this.tooltip.show(this.host.labelLines(labelRow), e.clientX, e.clientY, "heatmap");
      return;
    }
    if (!cell) {
      this.onLeave();
      return;
    }
    this.tooltip.show(this.host.cellLines(cell.row, cell.col), e.clientX, e.clientY, "heatmap");
    this.host.hover(cell);
  }

  private onLeave(): void {
    this.tooltip.hide();
    this.host.hover(null);
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
    this.drag = { x: e.clientX, y: e.clientY, win: this.host.frame().win, moved: false };
    this.canvas.setPointerCapture?.(e.pointerId);
  }

  private onUp(e: PointerEvent): void {
    const { query, key } = this.host.selected();
    const span = this.spanDrag;
    if (span) {
      this.spanDrag = null;
      // a shift-click (no drag) extends from the selected query, as in a list
      const from = span.from === span.to && query >= 0 ? query : span.from;
      this.events.queries(rowsBetween({ from, to: span.to }));
      return;
    }
    const drag = this.drag;
    this.drag = null;
    if (drag?.moved) return;
    const cell = this.pointerCell(e);
    if (!cell) {
      const row = this.labelRowAt(e);
      if (row >= 0 && this.host.targetable()) this.events.target(row);
      return;
    }
    const same = cell.row === query && cell.col === key;
    this.events.select(same ? -1 : cell.row, same ? -1 : cell.col); // a second click clears
  }

  /** The query row under the pointer, on a cell or its label (clamped to the plot while
   * dragging), or -1. */
  private queryRowAt(e: MouseEvent, clamp = false): number {
    const { plot, win } = this.host.frame();
    const box = this.canvas.getBoundingClientRect();
    const y = e.clientY - box.top;
    const x = e.clientX - box.left;
    const inside = y >= plot.y && y < plot.y + plot.h && x < plot.x + plot.w;
    if (!inside && !clamp) return -1;
    const f = Math.min(0.9999, Math.max(0, (y - plot.y) / plot.h));
    return win.row0 + Math.floor(f * win.rows);
  }

  /** The query whose label is under the pointer (left of the plot), or -1. */
  private labelRowAt(e: MouseEvent): number {
    const { plot, win } = this.host.frame();
    const box = this.canvas.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top;
    if (x >= plot.x || y < plot.y || y >= plot.y + plot.h) return -1;
    return win.row0 + Math.min(win.rows - 1, Math.floor(((y - plot.y) / plot.h) * win.rows));
  }

  private onWheel(e: WheelEvent): void {
    const cell = this.pointerCell(e);
    if (!cell) return;
    e.preventDefault();
    const factor = Math.exp(-e.deltaY * 0.002);
    const { nRows, nCols } = this.host.size();
    this.host.moveWindow(zoomWindow(this.host.frame().win, nRows, nCols, factor, cell));
  }
}
