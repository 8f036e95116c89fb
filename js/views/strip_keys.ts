// What the keyboard does on the word strip and the track (keyboard_nav.ts says which key means
// what): the arrows, PageUp/PageDown and Home/End move a focused key, whose tooltip shows beside it
// and is read out; Enter or Space selects it (the query shown, that key), Escape clears the key.
import type { ClientBox, Tooltip } from "../draw/tooltip";
import { intentOf, makeFocusable, spoken, stepKey } from "./keyboard_nav";
import type { StripEvents } from "./token_strip";

/** What the keys read from a strip and ask of it. */
export interface StripKeysHost {
  /** Keys on the axis. */
  size(): number;
  /** Keys a line of the word strip holds (Up/Down move by it); 1 for the track. */
  perLine(): number;
  /** Keys PageUp/PageDown move by. */
  page(): number;
  /** The query whose row is shown, whether the user chose it (else it is the last token's), and
   * the selected key (-1: none). */
  selected(): { query: number; chosen: boolean; key: number };
  lines(key: number): string[];
  /** Where key `key` is drawn, in client pixels, once it is in view. */
  cellBox(key: number): ClientBox | null;
  /** Draw the focus on key `key` (-1: none), bringing it into view first. */
  mark(key: number): void;
}

export class StripKeys {
  private focused = -1;

  constructor(
    canvas: HTMLCanvasElement,
    private readonly host: StripKeysHost,
    private readonly events: StripEvents,
    private readonly tooltip: Tooltip,
    signal: AbortSignal,
  ) {
    makeFocusable(canvas, "token strip");
    canvas.setAttribute(
      "aria-label",
      "the selected query's attention to each key: arrow keys move between keys, Enter selects one, Escape clears it",
    );
    const opts = { signal };
    canvas.addEventListener("keydown", (e) => this.onKey(e), opts);
    canvas.addEventListener("focus", () => this.focus(this.focused >= 0 ? this.focused : Math.max(0, host.selected().key)), opts);
    canvas.addEventListener(
      "blur",
      () => {
        this.focused = -1;
        this.tooltip.hide();
        this.host.mark(-1);
      },
      opts,
    );
  }

  private onKey(e: KeyboardEvent): void {
    const intent = intentOf(e);
    const n = this.host.size();
    if (!intent || intent === "zoomIn" || intent === "zoomOut" || n === 0) return;
    e.preventDefault(); // Space would scroll the page, the arrows the output area
    e.stopPropagation(); // and the notebook's own shortcuts (arrows, Enter, Escape) stay out
    const at = Math.min(Math.max(this.focused, 0), n - 1); // the axis may have shrunk since
    const { query, chosen } = this.host.selected();
    if (intent === "select") this.events.select(query, at);
    else if (intent === "clear") this.events.select(chosen ? query : -1, -1);
    else this.focus(stepKey(intent, at, n, this.host.perLine(), this.host.page()));
  }

  private focus(key: number): void {
    if (this.host.size() === 0) return;
    this.focused = key;
    this.host.mark(key);
    const lines = this.host.lines(key);
    const cell = this.host.cellBox(key);
    if (cell) this.tooltip.showBeside(lines, cell, "strip");
    this.tooltip.announce(spoken(lines));
  }
}
