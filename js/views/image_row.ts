// What the image panel colours its patches with: the strip's current numbers at the image
// tokens. That is the selected query's row of the head and quantity shown (the last token's when
// none is selected), the mean row of several selected queries, or a saliency method's vector;
// while the pointer rests on a heatmap row or a word, that row instead (a preview). Rows come
// from the tile store at cell level, in the same row tiles the strip and the track ask for, and
// only over the keys that are patches: nothing N x N, whatever the input's length. Signed numbers
// (attention x gradient, gradient x input, integrated gradients) are coloured by sign here, where
// the strip and the heatmap colour them by size: on a picture, which patches push the prediction
// up and which push it down is the point.
import type { ColorScale } from "../draw/colormap";
import { divergingScale } from "../draw/colormap";
import type { TileSpec, TileStore } from "../tiles/tile_store";
import type { HeadRef } from "../wire/protocol";
import type { QueriesRow } from "./strip";
import type { StripVector } from "./token_strip";
import { ROW_TILE_SIDE } from "./track";

/** The numbers drawn: per key token its dec3 code (the tooltip's text) and value (its colour). */
export interface RowNumbers {
  code(token: number): number | undefined;
  value(token: number): number | undefined;
  scale: ColorScale;
  name: string; // the tooltip's name of the number ("weight")
  title: string; // the colour bar's title
  /** Which row: "query 5", "queries 2–6 (mean)", or the method's caption; `row` its query or -1. */
  row: number;
  drawn: "row" | "mean" | "vector" | "preview";
}

/** What the strip holds now, as the panel reads it. */
export interface StripState {
  head: HeadRef | null;
  scale: ColorScale | null;
  valueName: string; // "weight", or the quantity's name
  query: number; // the row shown: the selected query, or the last one
  queriesRow: QueriesRow | null;
  vector: StripVector | null;
  vectorWanted: boolean;
  nKeys: number;
}

/** The scale the picture uses: a scale that colours signed values by size becomes a diverging
 * one around 0 (blue below, red above) over the same largest |value|. */
export function pictureScale(scale: ColorScale): ColorScale {
  return scale.magnitude ? divergingScale(scale.hi) : scale;
}

/** The row tiles (cell level) that hold keys [k0, k1) of row `query`: aligned as the track's and,
 * for short inputs, the strip's own, so the store already has them. */
export function rowTiles(head: HeadRef, query: number, nKeys: number, k0: number, k1: number): TileSpec[] {
  const specs: TileSpec[] = [];
  for (let t = Math.floor(k0 / ROW_TILE_SIDE) * ROW_TILE_SIDE; t < k1; t += ROW_TILE_SIDE) {
    specs.push({ head, window: [query, query + 1, t, Math.min(nKeys, t + ROW_TILE_SIDE)], block: [1, 1] });
  }
  return specs;
}

/** The numbers for the panel, and the tiles they need (asked for whether or not they are here).
 * `preview`: a row the pointer rests on elsewhere (-1: none); ignored while a vector is shown. */
export function rowNumbers(
  strip: StripState,
  store: TileStore,
  preview: number,
  keys: [number, number],
): { numbers: RowNumbers | null; wanted: TileSpec[] } {
  if (strip.vectorWanted) {
    const v = strip.vector;
    if (!v) return { numbers: null, wanted: [] };
    const at = (t: number) => (t >= 0 && t < v.codes.length ? t : -1);
    return {
      numbers: {
        code: (t) => (at(t) >= 0 ? v.codes[t] : undefined),
        value: (t) => (at(t) >= 0 ? v.values[t] : undefined),
        scale: v.signedName ? pictureScale(v.scale) : v.scale,
        name: v.valueName,
        title: v.signedName ?? v.shortName,
        row: -1,
        drawn: "vector",
      },
      wanted: [],
    };
  }
  const { head } = strip;
  const scale = strip.scale && pictureScale(strip.scale);
  const what = strip.valueName;
  if (preview < 0 && strip.queriesRow && scale && strip.queriesRow.values.length === strip.nKeys) {
    const mean = strip.queriesRow;
    return {
      numbers: {
        code: (t) => mean.codes[t],
        value: (t) => mean.values[t],
        scale,
        name: what === "weight" ? "mean attention weight" : `mean ${what}`,
        title: what === "weight" ? "mean weight" : `mean ${what}`,
        row: -1,
        drawn: "mean",
      },
      wanted: [],
    };
  }
  if (!head || !scale) return { numbers: null, wanted: [] };
  const query = preview >= 0 ? preview : strip.query;
  const wanted = rowTiles(head, query, strip.nKeys, keys[0], keys[1]);
  const tiles = wanted.map((spec) => store.get(spec));
  if (tiles.some((t) => !t)) return { numbers: null, wanted };
  const find = (t: number) => {
    for (const tile of tiles) {
      const k0 = tile?.window[2] ?? 0;
      if (tile && t >= k0 && t < k0 + tile.cols) return { tile, i: t - k0 };
    }
    return null;
  };
  const title = what === "weight" ? "attention weight" : what; // signed numbers are drawn by sign here
  return {
    numbers: {
      code: (t) => {
        const f = find(t);
        return f ? f.tile.codes[f.i] : undefined;
      },
      value: (t) => {
        const f = find(t);
        return f ? f.tile.values[f.i] : undefined;
      },
      scale,
      name: what,
      title,
      row: query,
      drawn: preview >= 0 ? "preview" : "row",
    },
    wanted,
  };
}
