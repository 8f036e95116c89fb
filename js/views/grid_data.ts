// What the grid shows: each head's score decoded from the kernel's scores payload, and the
// tooltip's words for a head or an aggregate (a mean over layers or heads).
import { bytesOf, codesOf, decodeCodes, formatCode } from "../wire/decode";
import type { ScoresPayload } from "../wire/types";

/** While the kernel refines the scores: each head's standard error (dec3), which heads are exact,
 * which estimates are lower bounds (a maximum over sampled rows), and the sample size. */
export interface GridEstimate {
  errors: Uint16Array;
  exact: Uint8Array | null;
  lowerBound: Uint8Array | null;
  sample: number;
  rows: number;
}

export interface GridData {
  nLayers: number;
  nHeads: number;
  codes: Uint16Array; // dec3, row-major (layer, head)
  values: Float32Array;
  metricLabel: string;
  estimate: GridEstimate | null; // null: every score is exact
  undefinedHeads: Uint8Array | null; // 1 = this head has no value for the metric
  /** Means: per layer over heads (nLayers), per head over layers (nHeads), then of all (1). */
  aggregates: { codes: Uint16Array; values: Float32Array; undefined: Uint8Array | null } | null;
}

/** A grid position: layer and head, either -1 for an aggregate (the mean over that axis). */
/** How far the kernel has refined the scores, and the line under the grid saying so ("" once exact). */
export interface GridProgress {
  exact: boolean;
  done: number;
  total: number;
  line: string;
}

export function gridProgressOf(payload: ScoresPayload, heads: number): GridProgress {
  const done = payload.done ?? heads;
  const total = payload.total ?? heads;
  const line = payload.exact
    ? ""
    : `refining scores: ${done} of ${total} heads exact · the rest estimated from ${payload.sample} of ${payload.rows} query rows (≈ in the tooltip)`;
  return { exact: !!payload.exact, done, total, line };
}

/** The grid's data from the scores payload, or null when the payload is not this shape's scores. */
export function gridDataOf(
  payload: ScoresPayload | null | undefined,
  nLayers: number,
  nHeads: number,
  metricLabel: string,
): GridData | null {
  const codes = codesOf(payload?.data);
  if (payload?.what !== "scores" || codes.length !== nLayers * nHeads) return null;
  const bytes = (b: ScoresPayload["data"] | undefined) => (b ? bytesOf(b) : null);
  const estimate = payload.exact
    ? null
    : {
        errors: codesOf(payload.error),
        exact: bytes(payload.exact_heads),
        lowerBound: bytes(payload.lower_bound),
        sample: payload.sample ?? 0,
        rows: payload.rows ?? 0,
      };
  const undefinedHeads = bytes(payload.undefined);
  const values = decodeCodes(codes);
  if (undefinedHeads) for (let i = 0; i < values.length; i++) if (undefinedHeads[i]) values[i] = Number.NaN;
  const aggregateCodes = codesOf(payload.aggregates);
  const aggregates =
    aggregateCodes.length === nLayers + nHeads + 1
      ? { codes: aggregateCodes, values: decodeCodes(aggregateCodes), undefined: bytes(payload.aggregates_undefined) }
      : null;
  return { nLayers, nHeads, codes, values, metricLabel, estimate, undefinedHeads, aggregates };
}

/** How many heads an aggregate covers, in words: "mean of 12 heads". */
export function aggregateName(layer: number, head: number, nLayers: number, nHeads: number): string {
  if (layer < 0 && head < 0) return `mean of all ${nLayers * nHeads} heads`;
  if (head < 0) return `layer ${layer} · mean of ${nHeads} heads`;
  return `head ${head} · mean over ${nLayers} layers (${nLayers} heads)`;
}

/** The tooltip lines of an aggregate cell: what it averages, and its score. */
export function describeAggregate(
  data: GridData,
  layer: number,
  head: number,
  cell: { code: number; none: boolean } | null,
): string[] {
  const lines = [aggregateName(layer, head, data.nLayers, data.nHeads)];
  if (!cell || cell.none) return [...lines, `${data.metricLabel}: no value (no head here has one)`];
  const est = data.estimate?.exact;
  let estimated = false;
  if (est) {
    for (let l = 0; l < data.nLayers; l++) {
      for (let h = 0; h < data.nHeads; h++) {
        if ((layer < 0 || l === layer) && (head < 0 || h === head) && !est[l * data.nHeads + h]) estimated = true;
      }
    }
  }
  const value = formatCode(cell.code);
  lines.push(`${data.metricLabel}, mean of the cells: ${estimated ? `≈ ${value} (some are estimates)` : value}`);
  lines.push("click: the heatmap shows the mean attention matrix");
  return lines;
}

/** The tooltip lines for score i: exact, or an estimate with its standard error and sample. */
export function describeScore(data: GridData, i: number): string[] {
  const est = data.estimate;
  if (data.undefinedHeads?.[i]) return [`${data.metricLabel}: no value (defined on no query row of this input)`];
  const value = formatCode(data.codes[i]);
  if (!est?.exact || est.exact[i]) return [`${data.metricLabel}: ${value}`];
  const sample = `${est.sample} of ${est.rows} query rows`;
  if (est.lowerBound?.[i]) {
    return [
      `${data.metricLabel}: ≥ ${value} (estimate)`,
      `largest over ${sample} sampled: a lower bound`,
      "exact value on its way",
    ];
  }
  return [
    `${data.metricLabel}: ≈ ${value} (estimate)`,
    `standard error ${formatCode(est.errors[i])}, from ${sample}`,
    "exact value on its way",
  ];
}
