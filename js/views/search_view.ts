// The token search across the views: the box shows the text and what it found, the heatmap and
// the strip panel mark the matches, and Enter moves the heatmap's window to the next one.
import type { Axis } from "../wire/types";
import type { HeatmapView } from "./heatmap";
import type { StripPanel } from "./strip_panel";
import { TokenSearch } from "./token_search";

/** Where the text and the count are shown (the toolbar's SearchBox, controls/search_box.ts). */
export interface SearchShown {
  show(text: string, summary: string): void;
}

export class SearchView {
  private readonly search = new TokenSearch();
  private text = "";

  constructor(
    private readonly box: SearchShown,
    private readonly heatmap: HeatmapView,
    private readonly strip: StripPanel,
    private readonly redraw: () => void,
  ) {}

  /** New axes: find `text` (the `search` trait) again in them. */
  setAxes(rows: Axis, cols: Axis, text: string): void {
    this.search.setAxes(rows, cols);
    this.show(text);
  }

  /** The `search` trait's text: find it, mark what it found, count it in the box. */
  show(text: string): void {
    this.text = text;
    const found = this.search.setText(text);
    this.box.show(text, this.search.summary);
    this.heatmap.setMatches(found);
    this.strip.setMatches(found);
    this.redraw();
  }

  /** Enter (1) or Shift+Enter (-1): the heatmap's window goes to the next or previous match. */
  next(step: 1 | -1): void {
    const win = this.search.next(step, this.heatmap.window);
    this.show(this.text);
    if (win) this.heatmap.setWindow(win);
  }
}
