// The traits the widget shares with Python (attn_widget/widget.py), as the frontend sees them.
import type { AnyModel } from "@anywidget/types";

export interface MetricOption {
  id: string;
  label: string;
  description: string;
}

/** Bytes traits arrive as DataView in Jupyter; other hosts may hand over buffers or views. */
export type Binary = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

export interface WidgetState {
  tokens: string[];
  special: boolean[];
  n_layers: number;
  n_heads: number;
  n_tokens: number;
  grid_metric: string;
  grid_metric_options: MetricOption[];
  grid_scores: Binary;
  attention_data: Binary;
  head_data: Binary;
  head_data_for: number[];
  head_preview: Binary;
  head_preview_for: number[]; // layer, head, factor, size
  layer: number;
  head: number;
  query: number;
  key: number;
}

export type WidgetModel = AnyModel<WidgetState>;

/** One head's matrix: dec3 codes (for exact tooltip text) and their values (for colour), size x
 * size. factor 1: the exact N x N matrix; factor k > 1: a preview in which each cell is the
 * maximum of a k x k block (shown while the exact matrix is on its way). */
export interface HeadMatrix {
  codes: Uint16Array;
  values: Float32Array;
  size: number;
  factor: number;
}
