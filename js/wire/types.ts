// The traits the widget shares with Python (attn_widget/widget/state.py), as the frontend sees them.
import type { AnyModel } from "@anywidget/types";
import type { Payload } from "./protocol";

export interface MetricOption {
  id: string;
  label: string;
  description: string;
}

/** Bytes traits arrive as DataView in Jupyter; other hosts may hand over buffers or views. */
export type Binary = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

/** Per-token booleans: bytes (0 or 1 each) from the kernel, or a JSON list from older states. */
export type Flags = boolean[] | DataView;

export interface KindOption {
  id: string;
  label: string;
}

/** The progress line of a live generation. */
export interface GenerationState {
  line?: string;
  step?: number;
  max?: number;
  done?: boolean;
  error?: string;
}

/** Each generated position's candidates (what="candidates"), probabilities as Python prints them. */
export interface Candidates {
  positions: number[];
  chosen: string[];
  chosen_ids: number[];
  chosen_probability: string[];
  tokens: string[][];
  ids: number[][];
  probabilities: string[][];
  entropy: string[];
}

export interface WidgetState {
  kinds: KindOption[];
  kind: string;
  // Token axes as they travel (attn_widget/wire/axis.py): flags one byte per token; a query field that is
  // null is the same as the key field of the same state (self-attention); older saved states
  // carry JSON lists and may lack the query fields.
  tokens: string[]; // keys (columns)
  special: Flags;
  generated: Flags;
  _query_tokens: string[] | null; // queries (rows): differ from the keys only for cross-attention
  _query_special: Flags | null;
  _query_generated: Flags | null;
  n_layers: number;
  n_heads: number;
  n_tokens: number;
  n_queries: number;
  grid_metric: string;
  _grid_metric_options: MetricOption[];
  _grid_scores: ScoresPayload | null;
  _attention_data: (Payload & { data?: Binary }) | null;
  layer: number;
  head: number;
  query: number;
  key: number;
  queries: number[]; // several selected queries (shift-click / shift-drag); [] = none
  _queries_row: (Payload & { method?: string; queries?: number[]; data?: Binary }) | null;
  compare_labels: string[]; // [a, b] for AttentionWidget.compare, else []
  window: number[]; // q0, q1, k0, k1 (end exclusive)
  search: string; // the token search's text (views/token_search.ts); absent in states saved before it
  // saliency (from_model(..., saliency=True))
  saliency_available: boolean;
  _strip_methods: StripMethodOption[];
  strip_method: string;
  _strip_values: (Payload & { method?: string; data?: Binary }) | null;
  strip_label: string;
  heatmap_quantity: string; // an id of quantities.ts: "attention", "attention_x_gradient", "rollout", "difference", "a", "b"
  _saliency_version: number;
  target_position: number;
  target_token: string;
  target_label: string;
  busy: boolean;
  status: string;
  spans: Span[];
  flow_span: string;
  // the image panel (attn_widget/wire/payloads.py): {} without pictures; _query_patches null when
  // the same as _patches (self-attention)
  _images: ImagesPayload | null;
  _patches: PatchesPayload | null;
  _query_patches: PatchesPayload | null;
  // live generation (attn_widget/widget/live_feed.py): {} for widgets that never generated
  generating: boolean;
  step: number;
  _generation: GenerationState;
  _candidates: Candidates;
  _candidates_recent: Candidates;
  _forks: string[];
}

/** A strip method: its label in the control, and `short` as its colour-bar title. */
export interface StripMethodOption extends KindOption {
  short: string;
  /** For a signed method: the name of its signed values (the picture colours them by sign). */
  signed_short?: string;
}

/** A named token range [start, end) drawn as a bracket. */
export interface Span {
  name: string;
  start: number;
  end: number;
}

export type WidgetModel = AnyModel<WidgetState>;

/** The grid's payload: scores (dec3), and while refinement runs, each head's standard error
 * (dec3), which heads are exact (a byte each) and which estimates are lower bounds. */
export interface ScoresPayload extends Payload {
  metric: string;
  exact: boolean;
  done: number;
  total: number;
  sample: number;
  rows: number;
  data: Binary;
  error?: Binary;
  exact_heads?: Binary;
  lower_bound?: Binary;
  undefined?: Binary; // a byte per head: 1 = no value (a detector with no row where it is defined)
  aggregates?: Binary; // dec3: mean over heads per layer (L), over layers per head (H), of all (1)
  aggregates_undefined?: Binary;
}

/** The tokens along one axis of the heatmap. */
export interface Axis {
  tokens: string[];
  special: boolean[];
  generated: boolean[];
  /** Which positions are image patches, and where (none for text). */
  patches?: PatchMap;
}

// The image panel's payloads (decoded by image_wire.ts).
export interface ImagesPayload {
  what?: string;
  shape?: number[];
  encoding?: string; // "jpeg" (or "png")
  sizes?: [number, number][]; // original [width, height]
  wire_sizes?: [number, number][]; // what travels
  lengths?: number[]; // bytes of each picture inside `data`, in order
  data?: Binary;
}

export interface PatchesPayload {
  what?: string;
  kind?: string;
  shape?: number[];
  encoding?: string; // "int32"
  data?: Binary;
}

/** An axis's image positions: `token[i]` covers box (x0[i], y0[i], x1[i], y1[i]) of picture
 * `image[i]`, in original pixels, end exclusive; rows in axis order. */
export interface PatchMap {
  kind: string;
  count: number;
  token: Int32Array;
  image: Int32Array;
  x0: Int32Array;
  y0: Int32Array;
  x1: Int32Array;
  y1: Int32Array;
}
