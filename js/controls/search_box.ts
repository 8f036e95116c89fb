// The toolbar's token search: a box whose text is the `search` trait, and what it found ("17
// matches", then "3 of 17" once Enter has gone to one; a status, so screen readers say it).
// Enter goes to the next match, Shift+Enter to the previous one (views/token_search.ts).

export interface SearchEvents {
  /** The text typed (every keystroke: the matching runs in the page, nothing else travels). */
  changed(text: string): void;
  /** Enter (1) or Shift+Enter (-1): zoom the heatmap to the next or the previous match. */
  next(step: 1 | -1): void;
}

export class SearchBox {
  readonly el: HTMLSpanElement;
  private readonly input: HTMLInputElement;
  private readonly count: HTMLSpanElement;

  constructor(events: SearchEvents, signal: AbortSignal) {
    this.el = document.createElement("span");
    this.el.className = "attn-search";
    this.input = document.createElement("input");
    this.input.type = "search";
    this.input.dataset.testid = "attn-search";
    this.input.placeholder = "find a token";
    this.input.setAttribute("aria-label", "find a token (Enter: next match, Shift+Enter: previous)");
    this.input.spellcheck = false;
    this.count = document.createElement("span");
    this.count.className = "attn-search-count";
    this.count.dataset.testid = "attn-search-count";
    this.count.setAttribute("role", "status");
    this.el.append(this.input, this.count);
    this.input.addEventListener("input", () => events.changed(this.input.value), { signal });
    this.input.addEventListener(
      "keydown",
      (e) => {
        if (e.key !== "Enter") return;
        e.preventDefault();
        e.stopPropagation(); // a notebook's Enter would run or edit the cell
        events.next(e.shiftKey ? -1 : 1);
      },
      { signal },
    );
  }

  /** The trait's text (set from Python or typed here) and what it found. */
  show(text: string, summary: string): void {
    if (this.input.value !== text) this.input.value = text;
    this.count.textContent = summary;
  }
}
