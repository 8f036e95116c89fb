// What the heatmap can show (the heatmap_quantity trait; attn_widget/engine/sources.py QUANTITIES
// is Python's twin, which computes them): for each quantity, the words the page uses for it, how it
// is coloured, and whether its tiles change with the saliency target. The one table of them on
// the page side: adding a quantity here gives it its toolbar option, title, colour bar, tooltip
// names, scale and tile requests.

/** A comparison's run names [a, b] (the compare_labels trait). */
export type RunNames = readonly [string, string];

/** The quantity the heatmap shows, with its words filled in for the runs of a comparison. */
export interface Quantity {
  id: string;
  /** Values carry a sign: blocks are pooled by magnitude and ranks are of |value|. */
  signed: boolean;
  /** A red-blue scale around 0; otherwise viridis (by size when signed). */
  diverging: boolean;
  /** Changes with the saliency target: its tiles are asked for at the saliency version. */
  versioned: boolean;
  /** What the heatmap's title says it shows. */
  heading: string;
  /** The heatmap's colour bar title. */
  colorbarTitle: string;
  /** The number's name in the heatmap's tooltip. */
  cellName: string;
  /** The number's name in the strip (its captions, tooltip and colour bar; "weight" reads as attention). */
  valueName: string;
  /** A difference of two runs: those runs' quantities, whose weights the tooltip shows beside it. */
  parts: { quantities: readonly [string, string]; names: RunNames } | null;
}

/** Where a quantity is offered: the saliency toolbar (from_model(..., saliency=True)) or a
 * comparison's toolbar (AttentionWidget.compare). */
export type Toolbar = "saliency" | "compare";

interface Entry {
  toolbar: Toolbar;
  signed: boolean;
  diverging: boolean;
  versioned: boolean;
  option(runs: RunNames): string;
  heading(runs: RunNames): string;
  colorbarTitle(runs: RunNames): string;
  cellName: string;
  valueName(runs: RunNames): string;
  parts?: readonly [string, string];
}

/** Run a or b of a comparison on its own: plain attention weights, named after the run. */
function run(which: 0 | 1): Entry {
  return {
    toolbar: "compare",
    signed: false,
    diverging: false,
    versioned: false,
    option: (runs) => `${runs[which]} only`,
    heading: (runs) => `attention weights of ${runs[which]}`,
    colorbarTitle: (runs) => `attention weight (${runs[which]})`,
    cellName: "weight",
    valueName: () => "weight",
  };
}

const TABLE: Record<string, Entry> = {
  attention: {
    toolbar: "saliency",
    signed: false,
    diverging: false,
    versioned: false,
    option: () => "attention",
    heading: () => "attention weights",
    colorbarTitle: () => "attention weight",
    cellName: "weight",
    valueName: () => "weight",
  },
  attention_x_gradient: {
    toolbar: "saliency",
    signed: true, // coloured by size, the sign in the tooltip
    diverging: false,
    versioned: true,
    option: () => "attention × gradient",
    heading: () => "attention × gradient A·∂L/∂A (colour = size, tooltip = sign)",
    colorbarTitle: () => "|attention × gradient|",
    cellName: "A·∂L/∂A",
    valueName: () => "A·∂L/∂A",
  },
  rollout: {
    toolbar: "saliency", // plain widgets have no quantity control: w.heatmap_quantity = "rollout"
    signed: false,
    diverging: false,
    versioned: false,
    option: () => "attention rollout",
    heading: () =>
      "attention rollout through this layer (½ mean-head attention + ½ I, multiplied over layers 0…this; the same for every head)",
    colorbarTitle: () => "rollout",
    cellName: "rollout",
    valueName: () => "rollout",
  },
  difference: {
    toolbar: "compare",
    signed: true,
    diverging: true,
    versioned: false,
    option: ([a, b]) => `${b} − ${a}`,
    heading: ([a, b]) => `${b} − ${a} (red: more attention in ${b}, blue: less)`,
    colorbarTitle: ([a, b]) => `${b} − ${a}`,
    cellName: "weight", // its cells read "b − a = ..." (heatmap_tooltip.ts); blocks read "largest |weight|"
    valueName: ([a, b]) => `${b} − ${a}`,
    parts: ["a", "b"],
  },
  a: run(0),
  b: run(1),
};

/** What the heatmap shows when the trait is not set (older saved states). */
export const DEFAULT_QUANTITY = "attention";

/** The quantity `id` with its words for these run names (compare_labels; a and b when there are
 * none). An id the table does not know is shown as attention weights. */
export function quantityOf(id: string | null | undefined, compareLabels?: readonly string[] | null): Quantity {
  const key = id ?? DEFAULT_QUANTITY;
  const entry = TABLE[key] ?? TABLE[DEFAULT_QUANTITY];
  const runs = runNames(compareLabels) ?? (["a", "b"] as const);
  return {
    id: key,
    signed: entry.signed,
    diverging: entry.diverging,
    versioned: entry.versioned,
    heading: entry.heading(runs),
    colorbarTitle: entry.colorbarTitle(runs),
    cellName: entry.cellName,
    valueName: entry.valueName(runs),
    parts: entry.parts ? { quantities: entry.parts, names: runs } : null,
  };
}

/** [a, b] when the widget compares two runs, else null. */
export function runNames(compareLabels: readonly string[] | null | undefined): RunNames | null {
  return compareLabels && compareLabels.length === 2 ? [compareLabels[0], compareLabels[1]] : null;
}

/** The options a toolbar offers, in table order, with their text for these runs. */
export function quantityOptions(toolbar: Toolbar, runs: RunNames = ["a", "b"]): { id: string; label: string }[] {
  return Object.entries(TABLE)
    .filter(([, entry]) => entry.toolbar === toolbar)
    .map(([id, entry]) => ({ id, label: entry.option(runs) }));
}
