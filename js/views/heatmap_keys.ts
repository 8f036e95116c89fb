// What the keyboard does on the heatmap (keyboard_nav.ts says which key means what): the arrows,
// PageUp/PageDown and Home/End move a focused cell, drawn like the hovered one, and the window
// follows it; its tooltip shows beside it and the live region reads it out. Enter or Space selects
// the focused cell, Escape clears the selection, + and - zoom about the focused cell.
import type { Cell } from "../draw/layout";
import { cellRect, zoomWindow } from "../draw/layout";
import type { Tooltip } from "../draw/tooltip";
import type { HeatmapEvents, PointerHost } from "./heatmap_pointer";
import { intentOf, makeFocusable, spoken, stepCell, windowShowing } from "./keyboard_nav";

const ZOOM_STEP = 2; // + shows half as many cells a side, - twice as many

export class HeatmapKeys {
  private focused: Cell | null = null;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly host: PointerHost,
    private readonly events: HeatmapEvents,
    private readonly tooltip: Tooltip,
    signal: AbortSignal,
  ) {
    makeFocusable(canvas, "heatmap");
    canvas.setAttribute(
      "aria-label",
      "token by token attention of the selected head: arrow keys move between cells (rows are queries, columns keys), Enter selects, Escape clears, plus and minus zoom",
    );
    const opts = { signal };
    canvas.addEventListener("keydown", (e) => this.onKey(e), opts);
    canvas.addEventListener("focus", () => this.focus(this.focused ?? this.start()), opts);
    canvas.addEventListener("blur", () => this.blur(), opts);
  }

  /** Where the focus starts: the selected cell, else the window's first cell. */
  private start(): Cell {
    const { query, key } = this.host.selected();
    const { win } = this.host.frame();
    return query >= 0 && key >= 0 ? { row: query, col: key } : { row: win.row0, col: win.col0 };
  }

  private onKey(e: KeyboardEvent): void {
    const intent = intentOf(e);
    const { nRows, nCols } = this.host.size();
    if (!intent || nRows === 0 || nCols === 0) return;
    e.preventDefault(); // Space would scroll the page, the arrows the output area
    e.stopPropagation(); // and the notebook's own shortcuts (arrows, Enter, Escape) stay out
    const focused = this.focused ?? this.start(); // the axes may have shrunk since (a kind switch)
    const at = { row: Math.min(focused.row, nRows - 1), col: Math.min(focused.col, nCols - 1) };
    const { win } = this.host.frame();
    if (intent === "select") this.events.select(at.row, at.col);
    else if (intent === "clear") this.events.select(-1, -1);
    else if (intent === "zoomIn" || intent === "zoomOut") {
      this.host.moveWindow(zoomWindow(win, nRows, nCols, intent === "zoomIn" ? ZOOM_STEP : 1 / ZOOM_STEP, at));
      this.focus(at);
    } else {
      const next = stepCell(intent, at, nRows, nCols, win.rows);
      this.host.moveWindow(windowShowing(win, next, nRows, nCols));
      this.focus(next);
    }
  }

  /** Mark the cell, show its tooltip beside it and read it out. */
  private focus(cell: Cell): void {
    this.focused = cell;
    this.host.hover(cell);
    const { plot, win } = this.host.frame();
    const r = cellRect(plot, win, cell.row, cell.col);
    const lines = this.host.cellLines(cell.row, cell.col);
    const box = this.canvas.getBoundingClientRect();
    if (r) {
      const [left, top] = [box.left + r.x, box.top + r.y];
      this.tooltip.showBeside(lines, { left, top, right: left + r.w, bottom: top + r.h }, "heatmap");
    }
    this.tooltip.announce(spoken(lines));
  }

  private blur(): void {
    this.focused = null;
    this.tooltip.hide();
    this.host.hover(null);
  }
}
