// The traits the widget shares with Python (attn_widget/widget.py), as the frontend sees them.
import type { AnyModel } from "@anywidget/types";

export interface MetricOption {
  id: string;
  label: string;
  description: string;
}

/** Bytes traits arrive as DataView in Jupyter; other hosts may hand over buffers or views. */
export type Binary = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

export interface KindOption {
  id: string;
  label: string;
}

export interface WidgetState {
  kinds: KindOption[];
  kind: string;
  tokens: string[]; // keys (columns)
  special: boolean[];
  generated: boolean[];
  query_tokens: string[]; // queries (rows): the same as tokens except for cross-attention
  query_special: boolean[];
  query_generated: boolean[];
  n_layers: number;
  n_heads: number;
  n_tokens: number;
  n_queries: number;
  grid_metric: string;
  grid_metric_options: MetricOption[];
  grid_scores: Binary;
  attention_data: Binary;
  head_data: Binary;
  head_data_for: number[];
  head_preview: Binary;
  head_preview_for: number[]; // layer, head, factor, rows, cols
  layer: number;
  head: number;
  query: number;
  key: number;
  // saliency (from_model(..., saliency=True))
  saliency_available: boolean;
  strip_methods: StripMethodOption[];
  strip_method: string;
  strip_values: Binary;
  strip_values_for: string; // "method,layer,head,version"
  strip_label: string;
  heatmap_quantity: string; // "attention" | "attention_x_gradient"
  saliency_version: number;
  target_position: number;
  target_token: string;
  target_label: string;
  busy: boolean;
  status: string;
  spans: Span[];
  flow_span: string;
}

/** A strip method: its label in the control, and `short` as its colour-bar title. */
export interface StripMethodOption extends KindOption {
  short: string;
}

/** A named token range [start, end) drawn as a bracket. */
export interface Span {
  name: string;
  start: number;
  end: number;
}

export type WidgetModel = AnyModel<WidgetState>;

/** One head's matrix: dec3 codes (for exact tooltip text) and their values (for colour), rows x
 * cols, row-major. factor 1: the exact Nq x Nk matrix; factor k > 1: a preview in which each cell
 * is the maximum of a k x k block (shown while the exact matrix is on its way). */
export interface HeadMatrix {
  codes: Uint16Array;
  values: Float32Array;
  rows: number;
  cols: number;
  factor: number;
}

/** The tokens along one axis of the heatmap. */
export interface Axis {
  tokens: string[];
  special: boolean[];
  generated: boolean[];
}
