// Where an axis's image tokens sit on their pictures (a PatchMap, image_wire.ts), grouped into
// the views the image panel draws one at a time: a group never holds two boxes that overlap, so
// a tiled model's global image (or LLaVA-NeXT's base image), which covers the picture a second
// time, is a view of its own instead of hiding the tiles under it. Also: which patch is at a
// pixel, which patch a token is, and a patch's row and column in words.
import type { PatchMap } from "../wire/types";

/** Patches drawn together: one picture, no two boxes overlapping, in axis order. */
export interface PatchView {
  image: number;
  /** What the labels call it ("global", "base"), "" for the plain patch grid. */
  name: string;
  /** Rows of the patch map in this view. */
  rows: number[];
}

// "<img 0: r3 c7>", "<img 1 global: r2-3 c6-7>": the picture, the view's name, rows and columns
const LABEL = /^<img (\d+)(?: ([^:]*))?: r(\d+(?:-\d+)?) c(\d+(?:-\d+)?)>$/;
const QUALIFIER = /^<img \d+(?: ([^:]*))?:/;

export class PatchIndex {
  readonly views: PatchView[];
  private readonly viewOfRow: Int32Array;
  private readonly rowOfToken = new Map<number, number>();

  constructor(
    readonly map: PatchMap,
    private readonly labels: string[],
  ) {
    this.viewOfRow = new Int32Array(map.count);
    this.views = groupViews(map, (i) => viewName(labels[map.token[i]] ?? ""), this.viewOfRow);
    for (let i = 0; i < map.count; i++) this.rowOfToken.set(map.token[i], i);
  }

  /** The map's row of token `t`, or -1 when the token is no patch. */
  rowOf(token: number): number {
    return this.rowOfToken.get(token) ?? -1;
  }

  /** The view that holds map row `row`. */
  viewOf(row: number): number {
    return this.viewOfRow[row];
  }

  /** The map row of view `view` whose box holds the original pixel (x, y), or -1. */
  at(view: number, x: number, y: number): number {
    const m = this.map;
    for (const i of this.views[view]?.rows ?? []) {
      if (x >= m.x0[i] && x < m.x1[i] && y >= m.y0[i] && y < m.y1[i]) return i;
    }
    return -1;
  }

  /** The row of another map with the same picture and box as row `row` of this one (the same
   * patch on the other axis), or -1. */
  sameBox(row: number, other: PatchMap): number {
    const m = this.map;
    for (let j = 0; j < other.count; j++) {
      if (
        other.image[j] === m.image[row] &&
        other.x0[j] === m.x0[row] &&
        other.y0[j] === m.y0[row] &&
        other.x1[j] === m.x1[row] &&
        other.y1[j] === m.y1[row]
      )
        return j;
    }
    return -1;
  }

  /** "row 3, col 7" (or "rows 2–3, cols 6–7" for a merged token) from the token's label, else
   * counted from the boxes of its view. */
  where(row: number): string {
    const found = LABEL.exec(this.labels[this.map.token[row]] ?? "");
    const [r, c] = found ? [found[3], found[4]] : this.counted(row);
    const name = (what: string, at: string) => (at.includes("-") ? `${what}s ${at.replace("-", "–")}` : `${what} ${at}`);
    return `${name("row", r)}, ${name("col", c)}`;
  }

  private counted(row: number): [string, string] {
    const m = this.map;
    const rows = this.views[this.viewOf(row)].rows;
    const ys = new Set<number>();
    const xs = new Set<number>();
    for (const i of rows) {
      if (m.y0[i] < m.y0[row]) ys.add(m.y0[i]);
      if (m.x0[i] < m.x0[row]) xs.add(m.x0[i]);
    }
    return [String(ys.size), String(xs.size)];
  }
}

/** The name a view takes from its tokens' labels: the qualifier they share ("global"), "" for
 * the plain grid, "tiles" when they differ (one qualifier per tile). */
function viewName(label: string): string {
  return QUALIFIER.exec(label)?.[1] ?? "";
}

/** Split the map into views: per picture, in axis order, a new view starts at a box that
 * overlaps one already in the current view. Exact: boxes are compared on the grid of the
 * picture's own box edges (a box covers whole cells of it), so touching boxes never count. */
export function groupViews(map: PatchMap, nameOf: (row: number) => string, viewOfRow: Int32Array): PatchView[] {
  const views: PatchView[] = [];
  const images = [...new Set(Array.from(map.image))].sort((a, b) => a - b);
  for (const image of images) {
    const rows: number[] = [];
    for (let i = 0; i < map.count; i++) if (map.image[i] === image) rows.push(i);
    const xs = edges(map.x0, map.x1, rows);
    const ys = edges(map.y0, map.y1, rows);
    const cells = new Uint8Array(Math.max(1, (xs.size - 1) * (ys.size - 1)));
    const width = xs.size - 1;
    let current: PatchView | null = null;
    const names = new Set<string>();
    for (const i of rows) {
      const cx0 = xs.get(map.x0[i]) ?? 0;
      const cx1 = xs.get(map.x1[i]) ?? 0;
      const cy0 = ys.get(map.y0[i]) ?? 0;
      const cy1 = ys.get(map.y1[i]) ?? 0;
      let overlaps = false;
      for (let y = cy0; y < cy1 && !overlaps; y++) for (let x = cx0; x < cx1; x++) if (cells[y * width + x]) overlaps = true;
      if (!current || overlaps) {
        if (current) current.name = names.size === 1 ? [...names][0] : "tiles";
        current = { image, name: "", rows: [] };
        views.push(current);
        cells.fill(0);
        names.clear();
      }
      for (let y = cy0; y < cy1; y++) for (let x = cx0; x < cx1; x++) cells[y * width + x] = 1;
      current.rows.push(i);
      names.add(nameOf(i));
      viewOfRow[i] = views.length - 1;
    }
    if (current) current.name = names.size === 1 ? [...names][0] : "tiles";
  }
  return views;
}

/** The distinct edges of the boxes `rows` along one axis, each with its place in sorted order. */
function edges(lo: Int32Array, hi: Int32Array, rows: number[]): Map<number, number> {
  const all = new Set<number>();
  for (const i of rows) {
    all.add(lo[i]);
    all.add(hi[i]);
  }
  return new Map([...all].sort((a, b) => a - b).map((edge, place) => [edge, place]));
}

/** What the panel's view control says for each view: "image 0", "image 0 · global". */
export function viewLabels(views: PatchView[]): string[] {
  return views.map((v) => `image ${v.image}${v.name ? ` · ${v.name}` : ""}`);
}
