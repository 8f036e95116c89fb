// What a key does in the grid, the heatmap and the strip, as plain functions of the key and the
// focused cell: arrows move the focus by one, PageUp/PageDown and Home/End jump, Enter or Space
// selects the focused cell, Escape clears the selection, + and - zoom about the focused cell. The
// views (grid.ts, heatmap_keys.ts, strip_keys.ts) turn these into drawing and trait changes.
import type { Cell, CellWindow } from "../draw/layout";
import { clampWindow } from "../draw/layout";

export type Intent =
  | "up"
  | "down"
  | "left"
  | "right"
  | "pageUp"
  | "pageDown"
  | "home"
  | "end"
  | "select"
  | "clear"
  | "zoomIn"
  | "zoomOut";

const KEYS: Record<string, Intent> = {
  ArrowUp: "up",
  ArrowDown: "down",
  ArrowLeft: "left",
  ArrowRight: "right",
  PageUp: "pageUp",
  PageDown: "pageDown",
  Home: "home",
  End: "end",
  Enter: "select",
  " ": "select",
  Escape: "clear",
  "+": "zoomIn",
  "=": "zoomIn", // + without Shift on most layouts
  "-": "zoomOut",
  _: "zoomOut",
};

/** The intent of a key press, or null for keys the widget leaves to the page (Tab, and any
 * combination with Ctrl, Alt or Meta: the browser's and the host's shortcuts). */
export function intentOf(e: { key: string; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }): Intent | null {
  if (e.ctrlKey || e.altKey || e.metaKey) return null;
  return KEYS[e.key] ?? null;
}

/** The heatmap's focus after a move: up/down one query, left/right one key, PageUp/PageDown one
 * window of queries, Home/End the first and last key of the row. */
export function stepCell(intent: Intent, cell: Cell, nRows: number, nCols: number, pageRows: number): Cell {
  const page = Math.max(1, pageRows);
  let { row, col } = cell;
  if (intent === "up") row -= 1;
  else if (intent === "down") row += 1;
  else if (intent === "left") col -= 1;
  else if (intent === "right") col += 1;
  else if (intent === "pageUp") row -= page;
  else if (intent === "pageDown") row += page;
  else if (intent === "home") col = 0;
  else if (intent === "end") col = nCols - 1;
  return { row: clamp(row, nRows), col: clamp(col, nCols) };
}

/** The grid's focus after a move. Layers are rows, heads columns; with aggregates the mean row
 * (layer -1) comes after the last layer and the mean column (head -1) after the last head, as
 * drawn. PageUp/PageDown go to the first and last layer, Home/End to the first and last head. */
export function stepHead(
  intent: Intent,
  at: { layer: number; head: number },
  nLayers: number,
  nHeads: number,
  aggregates: boolean,
): { layer: number; head: number } {
  const rows = nLayers + (aggregates ? 1 : 0);
  const cols = nHeads + (aggregates ? 1 : 0);
  const start = { row: at.layer < 0 ? nLayers : at.layer, col: at.head < 0 ? nHeads : at.head };
  const moved =
    intent === "pageUp"
      ? { ...start, row: 0 }
      : intent === "pageDown"
        ? { ...start, row: rows - 1 }
        : stepCell(intent, start, rows, cols, 1);
  return { layer: moved.row >= nLayers ? -1 : moved.row, head: moved.col >= nHeads ? -1 : moved.col };
}

/** The strip's focus after a move: left/right one key, up/down one line of the word strip
 * (`perLine` keys; 1 on the track), PageUp/PageDown `page` keys, Home/End the first and last. */
export function stepKey(intent: Intent, key: number, n: number, perLine: number, page: number): number {
  const step: Partial<Record<Intent, number>> = {
    left: -1,
    right: 1,
    up: -Math.max(1, perLine),
    down: Math.max(1, perLine),
    pageUp: -Math.max(1, page),
    pageDown: Math.max(1, page),
  };
  if (intent === "home") return 0;
  if (intent === "end") return Math.max(0, n - 1);
  return clamp(key + (step[intent] ?? 0), n);
}

/** The window moved as little as possible so that `cell` is inside it (its size kept). */
export function windowShowing(win: CellWindow, cell: Cell, nRows: number, nCols: number): CellWindow {
  const row0 = cell.row < win.row0 ? cell.row : cell.row >= win.row0 + win.rows ? cell.row - win.rows + 1 : win.row0;
  const col0 = cell.col < win.col0 ? cell.col : cell.col >= win.col0 + win.cols ? cell.col - win.cols + 1 : win.col0;
  return clampWindow({ ...win, row0, col0 }, nRows, nCols);
}

/** Tooltip lines as one sentence for the live region: " · " reads badly aloud. */
export function spoken(lines: string[]): string {
  return lines.join(", ").replaceAll(" · ", ", ");
}

function clamp(i: number, n: number): number {
  return Math.max(0, Math.min(n - 1, i));
}

/** Make a view's canvas a stop on the Tab path that takes its own keys: role "application" tells
 * screen readers to pass the arrows through instead of reading the page with them. */
export function makeFocusable(canvas: HTMLCanvasElement, what: string): void {
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "application");
  canvas.setAttribute("aria-roledescription", what);
}
