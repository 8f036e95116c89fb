// The image panel's words: its tooltip (the patch, its number as Python rounded it, whose row it
// is, its pixels, what a click does) and its caption (what the colours show).
import { describeQueries, describeToken } from "../draw/tooltip";
import { formatCode } from "../wire/decode";
import type { WirePicture } from "../wire/image_wire";
import type { Axis } from "../wire/types";
import type { RowNumbers, StripState } from "./image_row";
import type { PatchIndex } from "./patches";

export interface PatchWords {
  keys: PatchIndex;
  row: number; // the patch map row under the pointer
  numbers: RowNumbers | null;
  rows: Axis; // the kind's queries
  strip: StripState;
  query: number; // the patch's position as a query, or -1 (text queries)
  picture: WirePicture;
}

/** "patch (row 3, col 7) · token 41 · weight 0.0123", then whose row it is, the pixels it
 * covers and what a click does. */
export function describePatch({ keys, row, numbers, rows, strip, query, picture }: PatchWords): string[] {
  const { map } = keys;
  const token = map.token[row];
  const code = numbers?.code(token);
  const value =
    numbers && code !== undefined ? `${numbers.name} ${formatCode(code)}` : strip.vectorWanted ? "computing…" : "loading…";
  const lines = [`patch (${keys.where(row)}) · token ${token} · ${value}`];
  if (numbers?.drawn === "mean" && strip.queriesRow) {
    lines.push(`${describeQueries(strip.queriesRow.queries)}: mean of ${strip.queriesRow.queries.length} rows`);
  } else if (numbers && numbers.row >= 0) {
    lines.push(`from query ${numbers.row} ${describeToken(rows, numbers.row)}`);
  }
  const view = keys.views[keys.viewOf(row)];
  const where = `image ${map.image[row]}${view?.name ? ` ${view.name}` : ""}`;
  lines.push(
    `${where} · pixels x ${map.x0[row]}–${map.x1[row] - 1}, y ${map.y0[row]}–${map.y1[row] - 1} of ${picture.width} × ${picture.height}`,
  );
  lines.push(
    query >= 0
      ? `click: where this patch looks (query ${query})`
      : `click: select key ${token} (this kind's queries are text, not patches)`,
  );
  return lines;
}

export interface CaptionWords {
  rows: Axis;
  numbers: RowNumbers | null;
  strip: StripState;
  querySelected: boolean;
  hasPatches: boolean;
  loading: boolean;
  picture: WirePicture;
  index: number;
}

/** What the colours on the picture show. */
export function imageCaption(c: CaptionWords): string {
  const size = `image ${c.index} (${c.picture.width} × ${c.picture.height} px)`;
  if (!c.hasPatches) return `${size}: this kind's tokens are not patches of the picture; choose a kind that holds them`;
  const { strip, numbers } = c;
  if (strip.vectorWanted) return `${strip.vector ? strip.vector.label : "computing…"} · at the picture's patches`;
  const what = strip.valueName === "weight" ? "attention" : strip.valueName;
  if (numbers?.drawn === "mean" && strip.queriesRow) {
    return `mean ${what} from ${describeQueries(strip.queriesRow.queries)} to each patch of ${size}`;
  }
  const query = numbers?.row ?? strip.query;
  const from = `${what} from query ${query} ${describeToken(c.rows, query)} to each patch of ${size}`;
  if (c.loading) return `${from} (loading…)`;
  if (numbers?.drawn === "preview") return `${from} · under the pointer`;
  return c.querySelected ? from : `${from} · no query selected, showing the last token: click a patch to see where it looks`;
}
