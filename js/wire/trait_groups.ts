// The traits the app (app.ts) reloads together, by group: a kind switch or a grown input changes
// a dozen of the shape traits in one message, and the app loads the new shape once after all of
// them have landed; the saliency group redraws the toolbar, spans and target. A trait Python adds
// that the page should react to goes into its group here (and into WidgetState in types.ts).
import type { WidgetState } from "./types";

/** What the kind shown is made of: its axes (with their image patches), sizes and heads. */
export const SHAPE_TRAITS: (keyof WidgetState)[] = [
  "kind",
  "kinds",
  "tokens",
  "special",
  "generated",
  "_query_tokens",
  "_query_special",
  "_query_generated",
  "n_layers",
  "n_heads",
  "n_tokens",
  "n_queries",
  "_attention_data",
  "heatmap_quantity",
  "_saliency_version",
  "compare_labels",
  "_images",
  "_patches",
  "_query_patches",
];
/** The saliency toolbar, the spans, the target marker and the busy state. */
export const SALIENCY_TRAITS: (keyof WidgetState)[] = [
  "saliency_available",
  "_strip_methods",
  "strip_method",
  "target_token",
  "target_label",
  "target_position",
  "busy",
  "status",
  "spans",
  "flow_span",
];
