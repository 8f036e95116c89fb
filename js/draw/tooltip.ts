// The one tooltip element of a widget: plain text lines (tokens are untrusted, so textContent
// only), placed beside the pointer and kept inside the widget so the output area never clips it;
// and the words for tokens and queries that tooltips, captions and the toolbar share. A polite live
// region beside it reads out what the tooltip shows for a cell focused with the keyboard.
import type { Axis } from "../wire/types";

/** A cell's box in client pixels. */
export interface ClientBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export class Tooltip {
  readonly el: HTMLDivElement;
  /** Visually hidden; screen readers read its text when it changes (views/keyboard_nav.ts). */
  readonly live: HTMLDivElement;

  constructor(private readonly root: HTMLElement) {
    this.el = document.createElement("div");
    this.el.className = "attn-tooltip";
    this.el.dataset.testid = "attn-tooltip";
    this.el.setAttribute("role", "tooltip");
    this.el.hidden = true;
    this.live = document.createElement("div");
    this.live.className = "attn-announcer"; // not attn-live: the live generation panel has that class
    this.live.dataset.testid = "attn-live";
    this.live.setAttribute("role", "status");
    this.live.setAttribute("aria-live", "polite");
    root.append(this.el, this.live);
  }

  /** Say `text` through the live region (the same text twice is said again). */
  announce(text: string): void {
    this.live.textContent = this.live.textContent === text ? `${text}\u00a0` : text;
  }

  /** Show `lines` near the client point (x, y); `source` names the view it describes. */
  show(lines: string[], clientX: number, clientY: number, source: string): void {
    this.showBeside(lines, { left: clientX, top: clientY, right: clientX, bottom: clientY }, source);
  }

  /** Show `lines` beside `cell` (a cell focused with the keys): below and right of it, else above
   * or left of it where the widget ends, so the tooltip never hides the cell it describes. */
  showBeside(lines: string[], cell: ClientBox, source: string): void {
    this.el.textContent = lines.join("\n");
    this.el.dataset.source = source;
    this.el.hidden = false;
    const box = this.root.getBoundingClientRect();
    const tip = this.el.getBoundingClientRect();
    let left = cell.right - box.left + 14;
    let top = cell.bottom - box.top + 16;
    if (left + tip.width > box.width) left = Math.max(0, cell.left - box.left - tip.width - 10);
    if (top + tip.height > box.height) top = Math.max(0, cell.top - box.top - tip.height - 12);
    this.el.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}

/** A token quoted for display: JSON-style quotes make leading/trailing spaces visible. */
export function quoteToken(token: string, special: boolean): string {
  return `${JSON.stringify(token)}${special ? " (special)" : ""}`;
}

/** Token i of an axis, quoted, with its marks: "(special)", "(generated)". */
export function describeToken(axis: Axis, i: number): string {
  return `${quoteToken(axis.tokens[i] ?? "", axis.special[i] ?? false)}${axis.generated[i] ? " (generated)" : ""}`;
}

/** "queries 3–7" for a contiguous run, else "5 queries (3, 4, 9, …)". */
export function describeQueries(queries: number[]): string {
  const n = queries.length;
  if (n === 1) return `query ${queries[0]}`;
  if (queries[n - 1] - queries[0] === n - 1) return `queries ${queries[0]}–${queries[n - 1]}`;
  const shown = queries.slice(0, 6).join(", ");
  return `${n} queries (${shown}${n > 6 ? ", …" : ""})`;
}
