import { describe, expect, it } from "vitest";
import { magnitudeScale, zeroBasedScale } from "../../js/draw/colormap";
import type { TileStore } from "../../js/tiles/tile_store";
import { imageRuns } from "../../js/views/image_band";
import type { StripState } from "../../js/views/image_row";
import { pictureScale, rowNumbers, rowTiles } from "../../js/views/image_row";
import { PatchIndex, viewLabels } from "../../js/views/patches";
import { tokenAxes } from "../../js/wire/axis_wire";
import { patchMapOf, picturesOf } from "../../js/wire/image_wire";
import type { PatchMap } from "../../js/wire/types";

/** Int32 little-endian rows, as attn_widget/wire/payloads.py writes them, at a byte offset that
 * is not 0 and not a multiple of 4 (a kernel message's buffers start anywhere). */
function patchBytes(rows: number[][], offset = 3): DataView {
  const buf = new ArrayBuffer(offset + rows.length * 24);
  const view = new DataView(buf, offset, rows.length * 24);
  for (const [i, v] of rows.flat().entries()) view.setInt32(4 * i, v, true);
  return view;
}

function mapOf(rows: number[][]): PatchMap {
  const map = patchMapOf({ what: "patches", kind: "self", shape: [rows.length, 6], encoding: "int32", data: patchBytes(rows) });
  if (!map) throw new Error("no map");
  return map;
}

/** A 2 x 2 grid of 10-pixel patches at tokens 1..4 (token 0 is a CLS). */
const GRID = [
  [1, 0, 0, 0, 10, 10],
  [2, 0, 10, 0, 20, 10],
  [3, 0, 0, 10, 10, 20],
  [4, 0, 10, 10, 20, 20],
];
const GRID_LABELS = ["<img 0: cls>", "<img 0: r0 c0>", "<img 0: r0 c1>", "<img 0: r1 c0>", "<img 0: r1 c1>"];

describe("patchMapOf: an axis's patch map as it arrives", () => {
  it("reads little-endian int32 rows from a misaligned view", () => {
    const map = mapOf([[7, 1, 95, 0, 204, 107]]);
    expect([map.token[0], map.image[0], map.x0[0], map.y0[0], map.x1[0], map.y1[0]]).toEqual([7, 1, 95, 0, 204, 107]);
    expect(map.count).toBe(1);
  });
  it("reads an empty payload ({} for text), a wrong shape or a short buffer as no patches", () => {
    expect(patchMapOf({})).toBeUndefined();
    expect(patchMapOf(null)).toBeUndefined();
    expect(
      patchMapOf({ what: "patches", shape: [2, 6], encoding: "int32", data: patchBytes([[1, 0, 0, 0, 1, 1]]) }),
    ).toBeUndefined();
    expect(
      patchMapOf({ what: "patches", shape: [1, 5], encoding: "int32", data: patchBytes([[1, 0, 0, 0, 1, 1]]) }),
    ).toBeUndefined();
  });
});

describe("picturesOf: the pictures, one after another in one buffer", () => {
  const payload = {
    what: "images",
    shape: [2],
    encoding: "jpeg",
    sizes: [
      [640, 427],
      [4000, 3000],
    ] as [number, number][],
    wire_sizes: [
      [640, 427],
      [1024, 768],
    ] as [number, number][],
    lengths: [3, 2],
    data: new DataView(new Uint8Array([9, 1, 2, 3, 4, 5]).buffer, 1, 5),
  };
  it("splits the bytes by length and keeps the original size (patch boxes are in it)", () => {
    const [a, b] = picturesOf(payload);
    expect(Array.from(a.bytes)).toEqual([1, 2, 3]);
    expect(Array.from(b.bytes)).toEqual([4, 5]);
    expect([b.width, b.height, b.wireWidth, b.wireHeight, b.mime]).toEqual([4000, 3000, 1024, 768, "image/jpeg"]);
  });
  it("shows no picture for {} or lengths that do not add up to the bytes", () => {
    expect(picturesOf({})).toEqual([]);
    expect(picturesOf({ ...payload, lengths: [3, 3] })).toEqual([]);
    expect(picturesOf({ ...payload, encoding: "webp" })).toEqual([]);
  });
});

describe("tokenAxes: patch maps ride on the axes", () => {
  const state: Record<string, unknown> = {
    tokens: GRID_LABELS,
    special: [true, false, false, false, false],
    generated: [false, false, false, false, false],
    _query_tokens: null,
    _patches: { what: "patches", kind: "vision", shape: [4, 6], encoding: "int32", data: patchBytes(GRID) },
    _query_patches: null,
  };
  const model = { get: (name: string) => state[name] } as Parameters<typeof tokenAxes>[0];
  it("gives self-attention's query axis the keys' map (null: the same)", () => {
    const { rows, cols } = tokenAxes(model);
    expect(cols.patches?.count).toBe(4);
    expect(rows.patches).toBe(cols.patches);
  });
  it("drops a map that names tokens off the axis (another kind's, mid switch)", () => {
    const short = { get: (name: string) => (name === "tokens" ? GRID_LABELS.slice(0, 3) : state[name]) };
    expect(tokenAxes(short as typeof model).cols.patches).toBeUndefined();
  });
  it("gives text queries no map when the keys are patches (cross-attention: {} for the queries)", () => {
    const cross: Record<string, unknown> = {
      ...state,
      _query_tokens: ["a", "b"],
      _query_special: null,
      _query_generated: null,
      _query_patches: {},
    };
    const axes = tokenAxes({ get: (name: string) => cross[name] } as typeof model);
    expect(axes.rows.patches).toBeUndefined();
    expect(axes.cols.patches?.count).toBe(4);
  });
});

describe("PatchIndex: hit-testing and words", () => {
  const index = new PatchIndex(mapOf(GRID), GRID_LABELS);
  it("finds the patch under a pixel, boxes end-exclusive", () => {
    expect(index.map.token[index.at(0, 0, 0)]).toBe(1);
    expect(index.map.token[index.at(0, 9.99, 9.99)]).toBe(1);
    expect(index.map.token[index.at(0, 10, 9)]).toBe(2);
    expect(index.map.token[index.at(0, 19, 19)]).toBe(4);
    expect(index.at(0, 20, 5)).toBe(-1); // off the picture's patches (a center crop's border)
    expect(index.at(0, -1, 5)).toBe(-1);
  });
  it("maps tokens to rows, text and CLS to none", () => {
    expect(index.rowOf(3)).toBe(2);
    expect(index.rowOf(0)).toBe(-1);
  });
  it("says row and column as the label does, merged tokens as ranges", () => {
    expect(index.where(2)).toBe("row 1, col 0");
    const merged = new PatchIndex(mapOf([[5, 0, 0, 0, 32, 32]]), ["", "", "", "", "", "<img 0: r2-3 c6-7>"]);
    expect(merged.where(0)).toBe("rows 2–3, cols 6–7");
  });
  it("counts row and column from the boxes when a label does not say", () => {
    const plain = new PatchIndex(mapOf(GRID), ["a", "b", "c", "d", "e"]);
    expect(plain.where(3)).toBe("row 1, col 1");
  });
});

describe("views: boxes that cover the same pixels are never drawn together", () => {
  it("keeps a grid whose boxes only touch in one view", () => {
    expect(new PatchIndex(mapOf(GRID), GRID_LABELS).views.map((v) => v.rows)).toEqual([[0, 1, 2, 3]]);
  });
  it("puts a global image after its tiles into a view of its own, named by its labels", () => {
    const tiles = GRID.map((r) => [r[0], 0, r[2], r[3], r[4], r[5]]);
    const global = [[5, 0, 0, 0, 20, 20]];
    const labels = ["", "<img 0: r0 c0>", "<img 0: r0 c1>", "<img 0: r1 c0>", "<img 0: r1 c1>", "<img 0 global: r0 c0>"];
    const index = new PatchIndex(mapOf([...tiles, ...global]), labels);
    expect(index.views.map((v) => [v.name, v.rows])).toEqual([
      ["", [0, 1, 2, 3]],
      ["global", [4]],
    ]);
    expect(viewLabels(index.views)).toEqual(["image 0", "image 0 · global"]);
    expect(index.map.token[index.at(1, 5, 5)]).toBe(5); // in view 1, the same pixel is the global token
    expect(index.viewOf(4)).toBe(1);
  });
  it("gives each picture its own view, and names tiles with different qualifiers 'tiles'", () => {
    const rows = [
      [1, 0, 0, 0, 10, 10],
      [2, 0, 10, 0, 20, 10],
      [3, 1, 0, 0, 10, 10],
    ];
    const index = new PatchIndex(mapOf(rows), ["", "<img 0 t0: r0 c0>", "<img 0 t1: r0 c1>", "<img 1: r0 c0>"]);
    expect(viewLabels(index.views)).toEqual(["image 0 · tiles", "image 1"]);
  });
  it("finds the same patch on the other axis by its picture and box", () => {
    const keys = new PatchIndex(mapOf(GRID), GRID_LABELS);
    const queries = mapOf([
      [40, 0, 10, 10, 20, 20],
      [41, 0, 0, 0, 10, 10],
    ]);
    expect(queries.token[keys.sameBox(0, queries)]).toBe(41);
    expect(keys.sameBox(1, queries)).toBe(-1);
  });
});

describe("bands and row tiles", () => {
  it("joins consecutive patch tokens into runs (a picture is one stretch of a long axis)", () => {
    const map = mapOf([...GRID, [9, 0, 0, 0, 1, 1]]);
    expect(imageRuns({ tokens: [], special: [], generated: [], patches: map })).toEqual([
      [1, 5],
      [9, 10],
    ]);
    expect(imageRuns({ tokens: [], special: [], generated: [] })).toEqual([]);
  });
  it("asks for the row only over the patches' keys, in the track's aligned row tiles", () => {
    const head = { kind: "self", layer: 0, head: 0, quantity: "attention", version: 0 };
    expect(rowTiles(head, 7, 100, 3, 20).map((s) => s.window)).toEqual([[7, 8, 0, 100]]);
    const long = rowTiles(head, 9000, 20000, 4000, 9000);
    expect(long.map((s) => s.window)).toEqual([
      [9000, 9001, 0, 4096],
      [9000, 9001, 4096, 8192],
      [9000, 9001, 8192, 12288],
    ]);
    expect(long.every((s) => s.block[0] === 1 && s.block[1] === 1)).toBe(true);
  });
});

describe("signed numbers on the picture", () => {
  const values = new Float32Array([0.5, -2, 1]);
  const vector = {
    codes: new Uint16Array(3),
    values,
    label: "integrated gradients for 'horse'",
    valueName: "integrated gradients",
    shortName: "|integrated gradients|",
    scale: magnitudeScale(values),
    signedName: "integrated gradients",
  };
  const strip: StripState = {
    head: null,
    scale: null,
    valueName: "weight",
    query: 0,
    queriesRow: null,
    vector,
    vectorWanted: true,
    nKeys: 3,
  };
  const store = {} as TileStore; // a vector needs no tiles

  it("colours a signed vector by sign, around 0, over its largest |value|, under its signed name", () => {
    const { numbers } = rowNumbers(strip, store, -1, [0, 3]);
    expect(numbers?.scale.lo).toBe(-2);
    expect(numbers?.scale.hi).toBe(2);
    expect(numbers?.scale.magnitude).toBe(false);
    expect(numbers?.title).toBe("integrated gradients");
    expect(numbers?.scale.css(-2)).not.toBe(numbers?.scale.css(2)); // the strip's magnitude scale makes these equal
    expect(vector.scale.css(-2)).toBe(vector.scale.css(2));
  });

  it("keeps an unsigned vector (rollout) and attention weights on their own scales", () => {
    const rollout = { ...vector, signedName: null, shortName: "rollout", scale: zeroBasedScale(values) };
    const { numbers } = rowNumbers({ ...strip, vector: rollout }, store, -1, [0, 3]);
    expect(numbers?.scale).toBe(rollout.scale);
    expect(numbers?.title).toBe("rollout");
    const weights = zeroBasedScale([0.2, 0.7]);
    expect(pictureScale(weights)).toBe(weights);
    expect(pictureScale(magnitudeScale([0.2, -0.7])).lo).toBeCloseTo(-0.7);
  });
});
