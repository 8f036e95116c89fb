// What the panel under the heatmap shows, as one interface: the word strip (strip.ts) and, for
// long inputs, the track (track.ts) both show the selected query's row of the heatmap's head, or
// a per-token vector from Python, and strip_panel.ts drives whichever is on screen.
import type { ColorScale } from "../draw/colormap";
import type { TileSpec } from "../tiles/tile_store";
import type { HeadRef } from "../wire/protocol";
import type { Axis, Span } from "../wire/types";
import type { Matches } from "./token_search";

export interface StripEvents {
  /** A token was clicked: select (shown query, that key); clicking the selected key clears it. */
  select(query: number, key: number): void;
  /** The pointer rests on key `key` (-1: it left): the image panel follows. */
  hover?(key: number): void;
  /** The keyboard moved to key `key` outside the keys shown: the heatmap pans to show it. */
  reveal?(key: number): void;
}

/** A per-token vector from Python: codes (exact text), values (colour), what it means. */
export interface StripVector {
  codes: Uint16Array;
  values: Float32Array;
  label: string; // caption: what the colours mean
  valueName: string; // tooltip: the name of the number
  shortName: string; // colour bar title
  scale: ColorScale;
  /** The signed name of a signed method's values (the image panel colours them by sign), else null. */
  signedName: string | null;
}

export interface TokenStrip {
  /** The caption and the view: hidden as one when the other view stands in. */
  readonly el: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  /** The line above the view saying what it shows (figures copy it). */
  readonly captionEl: HTMLDivElement;
  /** The row tiles the last draw needed. */
  readonly wanted: TileSpec[];
  setAxes(rows: Axis, cols: Axis): void;
  setSpans(spans: Span[]): void;
  /** The heatmap's head (its row for the selected query is shown unless a vector is chosen),
   * with the heatmap's colour scale and the name of its numbers. */
  setHead(head: HeadRef | null, scale: ColorScale | null, valueName?: string): void;
  /** A saliency vector from Python; `wanted` without a vector: one is being computed. */
  setVector(vector: StripVector | null, wanted: boolean): void;
  /** The row shown is the selected query, or the last token when none is selected. */
  setSelection(query: number, key: number): void;
  /** The tokens a search found, marked on the keys. */
  setMatches(matches: Matches): void;
  layout(maxWidth: number): void;
  /** Draw on the view's canvas, or into `target` (an export: the same picture). */
  draw(target?: CanvasRenderingContext2D): void;
}
