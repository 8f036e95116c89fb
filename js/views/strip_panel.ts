// The panel under the heatmap: the word strip, or for inputs longer than TRACK_FROM_TOKENS keys
// the track that follows the heatmap's key axis. Both views hold the same state, so the panel can
// switch when the shape changes; only the one on screen draws and asks for tiles. The image panel
// (image.ts), which draws the strip's numbers on the picture, follows the same state.
import type { Theme } from "../draw/canvas";
import type { ColorScale } from "../draw/colormap";
import { magnitudeScale } from "../draw/colormap";
import type { Tooltip } from "../draw/tooltip";
import type { TileSpec, TileStore } from "../tiles/tile_store";
import { codesOf, decodeCodes } from "../wire/decode";
import type { HeadRef } from "../wire/protocol";
import type { Axis, Span, StripMethodOption, WidgetModel, WidgetState } from "../wire/types";
import type { ImageEvents } from "./image";
import { ImageView } from "./image";
import type { QueriesRow } from "./strip";
import { StripView } from "./strip";
import type { Matches } from "./token_search";
import type { StripEvents, StripVector, TokenStrip } from "./token_strip";
import { TrackView } from "./track";

/** Above this many keys the strip is a track that follows the heatmap's key axis. */
export const TRACK_FROM_TOKENS = 512;

/** A saliency method's vector (the _strip_values trait) once Python has sent it for this method
 * and input, else null (the strip says it is computing). Coloured by magnitude. */
export function stripVectorOf(
  payload: WidgetState["_strip_values"] | undefined,
  method: StripMethodOption,
  label: string,
  nTokens: number,
): StripVector | null {
  const codes = codesOf(payload?.data);
  if (payload?.what !== "strip" || payload.method !== method.id || codes.length !== nTokens) return null;
  const values = decodeCodes(codes);
  const shortName = method.short ?? method.label;
  const signedName = method.signed_short ?? null;
  return { codes, values, label, valueName: method.label, shortName, scale: magnitudeScale(values), signedName };
}

/** The strip's saliency vector from the traits: null for the heatmap's row, or while computing. */
export function stripVectorFromModel(model: Pick<WidgetModel, "get">): StripVector | null {
  const method = model.get("strip_method") ?? "attention";
  if (method === "attention") return null;
  const option = (model.get("_strip_methods") ?? []).find((m) => m.id === method) ?? { id: method, label: method, short: method };
  return stripVectorOf(model.get("_strip_values"), option, model.get("strip_label") ?? "", model.get("n_tokens"));
}

export class StripPanel {
  private readonly strip: StripView;
  private readonly track: TrackView;
  private long = false; // the track replaces the word strip

  /** The picture with the strip's numbers at its patches (beside the heatmap, in `imageContainer`). */
  readonly image: ImageView;

  constructor(
    [container, imageContainer]: [HTMLElement, HTMLElement],
    theme: () => Theme,
    tooltip: Tooltip,
    events: StripEvents & Omit<ImageEvents, "select">,
    store: TileStore,
    signal: AbortSignal,
  ) {
    const image = new ImageView(imageContainer, theme, tooltip, events, store, signal);
    this.image = image;
    const withHover = { select: events.select, hover: (key: number) => image.previewWord(key), reveal: events.reveal };
    this.strip = new StripView(container, theme, tooltip, withHover, store, signal);
    this.track = new TrackView(container, theme, tooltip, withHover, store, signal);
  }

  /** The view on screen. */
  get shown(): TokenStrip {
    return this.long ? this.track : this.strip;
  }

  private get both(): TokenStrip[] {
    return [this.strip, this.track];
  }

  /** New axes: the key count decides which view is on screen. */
  setAxes(rows: Axis, cols: Axis): void {
    for (const view of this.both) view.setAxes(rows, cols);
    this.image.setAxes(rows, cols);
    this.long = cols.tokens.length > TRACK_FROM_TOKENS;
    this.strip.el.hidden = this.long;
    this.track.el.hidden = !this.long;
    // data-testid="attn-strip" marks whichever strip is on screen
    const hidden = this.long ? this.strip : this.track;
    delete hidden.canvas.dataset.testid;
    this.shown.canvas.dataset.testid = "attn-strip";
  }

  setSpans(spans: Span[]): void {
    for (const view of this.both) view.setSpans(spans);
  }

  setHead(head: HeadRef | null, scale: ColorScale | null, valueName: string): void {
    for (const view of this.both) view.setHead(head, scale, valueName);
    this.image.setHead(head, scale, valueName);
  }

  setVector(vector: StripVector | null, wanted: boolean): void {
    for (const view of this.both) view.setVector(vector, wanted);
    this.image.setVector(vector, wanted);
  }

  setSelection(query: number, key: number): void {
    for (const view of this.both) view.setSelection(query, key);
    this.image.setSelection(query, key);
  }

  /** The tokens a search found. */
  setMatches(matches: Matches): void {
    for (const view of this.both) view.setMatches(matches);
  }

  /** Several queries are selected: the word strip shows their mean row (null: the query's row). */
  setQueriesRow(row: QueriesRow | null): void {
    this.strip.setQueriesRow(row);
    this.image.setQueriesRow(row);
  }

  /** The heatmap's key range: the track shows the same keys. */
  setKeys(col0: number, cols: number): void {
    this.track.setKeys(col0, cols);
  }

  layout(maxWidth: number): void {
    for (const view of this.both) view.layout(maxWidth);
  }

  draw(): void {
    this.shown.draw();
  }

  /** The row tile the word strip will need once `head` is shown (none for the track: it asks at
   * its draw, for the keys the heatmap shows). */
  specsFor(head: HeadRef): TileSpec[] {
    return this.long ? [] : this.strip.specsFor(head);
  }

  /** The tiles the view on screen and the image panel need. */
  get wanted(): TileSpec[] {
    return [...this.shown.wanted, ...this.image.wanted];
  }
}
