import { describe, expect, it, vi } from "vitest";
import { COALESCE_MS, headId, KERNEL_GONE, MAX_IN_FLIGHT, TileStore, tileKey } from "../../js/tiles/tile_store";
import type { HeadRef, TileBatch, TileRequest } from "../../js/wire/protocol";
import type { WidgetModel } from "../../js/wire/types";

type Listener = (...args: unknown[]) => void;

/** One widget model seen by several views: every custom message reaches every listener. */
function fakeModel() {
  const listeners = new Map<string, Set<Listener>>();
  const sent: TileRequest[] = [];
  const messages: (TileRequest | TileBatch)[] = []; // what went to the kernel, message by message
  const model = {
    get: () => undefined,
    set: () => undefined,
    save_changes: () => undefined,
    on: (ev: string, cb: Listener) => void (listeners.get(ev) ?? listeners.set(ev, new Set()).get(ev)!).add(cb),
    off: (ev: string, cb: Listener) => void listeners.get(ev)?.delete(cb),
    // the requests sent, whether one message carries one or several ("tiles")
    send: (content: TileRequest | TileBatch) => {
      messages.push(content);
      sent.push(...(content.type === "tiles" ? content.requests : [content]));
    },
    widget_manager: {} as never,
  } as unknown as WidgetModel;
  const broadcast = (content: unknown, buffers: DataView[]) => {
    for (const cb of listeners.get("msg:custom") ?? []) cb(content, buffers);
  };
  return { model, sent, messages, broadcast, listeners };
}

const head = (layer: number, h: number): HeadRef => ({ kind: "self", layer, head: h, quantity: "attention", version: 0 });

/** What the kernel sends back for a request: a tile whose every code is `fill`. */
function answer(request: TileRequest, fill: number, overrides: Partial<TileRequest> = {}) {
  const rows = Math.ceil((request.window[1] - request.window[0]) / request.block[0]);
  const cols = Math.ceil((request.window[3] - request.window[2]) / request.block[1]);
  const asked = { ...request, ...overrides };
  const content = {
    type: "reply",
    id: request.id,
    ok: true,
    request: asked,
    payload: {
      what: "tile",
      shape: [rows, cols],
      window: asked.window,
      block: asked.block,
      encoding: "dec3",
      where: null,
      range: [0, 0.5],
    },
  };
  return [content, [new DataView(new Uint16Array(rows * cols).fill(fill).buffer)]] as [unknown, DataView[]];
}

describe("tile store", () => {
  it("two views of one widget never take each other's tiles", () => {
    const { model, sent, broadcast } = fakeModel();
    const stop = new AbortController();
    const a = new TileStore(model, stop.signal, () => undefined);
    const b = new TileStore(model, stop.signal, () => undefined);
    const specA = {
      head: head(0, 1),
      window: [0, 13, 0, 13] as [number, number, number, number],
      block: [1, 1] as [number, number],
    };
    const specB = {
      head: head(2, 3),
      window: [0, 13, 0, 13] as [number, number, number, number],
      block: [1, 1] as [number, number],
    };
    a.want([specA]);
    b.want([specB]);
    expect(sent.map((r) => r.id)[0]).not.toBe(sent[1].id); // ids unique across views
    // The kernel answers b first; both views hear both replies.
    broadcast(...answer(sent[1], 4242));
    broadcast(...answer(sent[0], 1111));
    expect(a.get(specA)!.codes[0]).toBe(1111);
    expect(b.get(specB)!.codes[0]).toBe(4242);
    expect(a.get(specB)).toBeUndefined();
    expect(b.get(specA)).toBeUndefined();
  });

  it("refuses a reply that does not answer what was asked", () => {
    const { model, sent, broadcast } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    const spec = {
      head: head(1, 1),
      window: [0, 13, 0, 13] as [number, number, number, number],
      block: [1, 1] as [number, number],
    };
    store.want([spec]);
    broadcast(...answer(sent[0], 5, { head: 2 })); // the right id, another head
    expect(store.get(spec)).toBeUndefined();
    expect(store.error(spec)).toMatch(/does not answer/);
  });

  it("keeps at most MAX_IN_FLIGHT requests travelling and drops tiles no longer wanted", () => {
    const { model, sent, broadcast } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    const spec = (i: number) => ({
      head: head(0, 0),
      window: [0, 256, i * 256, (i + 1) * 256] as [number, number, number, number],
      block: [1, 1] as [number, number],
    });
    store.want(Array.from({ length: MAX_IN_FLIGHT + 4 }, (_, i) => spec(i)));
    expect(sent.length).toBe(MAX_IN_FLIGHT);
    store.want([spec(MAX_IN_FLIGHT + 3)]); // the view moved: only the last one is still wanted
    broadcast(...answer(sent[0], 1));
    expect(sent.length).toBe(MAX_IN_FLIGHT + 1);
    expect(sent[MAX_IN_FLIGHT].window).toEqual(spec(MAX_IN_FLIGHT + 3).window);
  });

  it("lets the requests of one burst go in one message, and a lone request as itself", () => {
    const { model, sent, messages, broadcast } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    const spec = (i: number) => ({
      head: head(0, i),
      window: [0, 13, 0, 13] as [number, number, number, number],
      block: [1, 1] as [number, number],
    });
    store.want([spec(0), spec(1), spec(2)]);
    expect(messages.length).toBe(1);
    expect(messages[0].type).toBe("tiles");
    expect(sent.map((r) => r.head)).toEqual([0, 1, 2]);
    store.want([spec(0), spec(1), spec(2), spec(3)]); // one more: it leaves alone
    expect(messages.length).toBe(2);
    expect(messages[1].type).toBe("tile");
    for (const [i, r] of sent.entries()) broadcast(...answer(r, 7 + i));
    expect([0, 1, 2, 3].map((i) => store.get(spec(i))?.codes[0])).toEqual([7, 8, 9, 10]);
  });

  it("draws a burst's first reply at once and the rest together, not once per reply", () => {
    vi.useFakeTimers();
    try {
      const { model, sent, broadcast } = fakeModel();
      let redraws = 0;
      const store = new TileStore(model, new AbortController().signal, () => redraws++);
      const spec = (i: number) => ({
        head: head(0, i),
        window: [0, 13, 0, 13] as [number, number, number, number],
        block: [1, 1] as [number, number],
      });
      store.want([0, 1, 2, 3].map(spec));
      broadcast(...answer(sent[0], 1));
      expect(redraws).toBe(1); // the first picture as early as possible
      broadcast(...answer(sent[1], 1));
      broadcast(...answer(sent[2], 1));
      expect(redraws).toBe(1);
      broadcast(...answer(sent[3], 1)); // the burst is answered: drawn now, together
      expect(redraws).toBe(2);
      vi.advanceTimersByTime(COALESCE_MS * 2);
      expect(redraws).toBe(2);
      // a slow burst: what has come is drawn COALESCE_MS after the first reply not yet drawn
      store.want([4, 5, 6].map(spec));
      broadcast(...answer(sent[4], 1));
      broadcast(...answer(sent[5], 1));
      expect(redraws).toBe(3);
      vi.advanceTimersByTime(COALESCE_MS);
      expect(redraws).toBe(4);
      expect(store.get(spec(5))).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it("cuts tiles from every head held in the page (eager widgets)", () => {
    const { model, sent } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    // 1 layer, 2 heads, 2 x 2: head 1 holds codes 9..15 (odd dec3 codes are positive, rising)
    const codes = new Uint16Array([1, 3, 5, 7, 9, 11, 13, 15]);
    store.setEager({ what: "heads", shape: [1, 2, 2, 2], kind: "self", encoding: "dec3", data: new DataView(codes.buffer) });
    const tile = store.get({ head: head(0, 1), window: [0, 2, 0, 2], block: [2, 2] })!;
    expect(Array.from(tile.codes)).toEqual([15]);
    expect(Array.from(tile.where!)).toEqual([3]);
    expect(sent).toEqual([]);
  });
});

describe("a kernel that cannot be reached", () => {
  it("fails the tiles at once with a message instead of waiting or throwing", () => {
    const { model } = fakeModel();
    (model as unknown as { send: () => void }).send = () => {
      throw new Error("Cannot send");
    };
    let changes = 0;
    const store = new TileStore(model, new AbortController().signal, () => changes++);
    const spec = {
      head: head(0, 0),
      window: [0, 256, 0, 256] as [number, number, number, number],
      block: [1, 1] as [number, number],
    };
    expect(() => store.want([spec])).not.toThrow();
    expect(store.error(spec)).toBe(KERNEL_GONE);
    expect(store.silentMs).toBe(0);
    expect(changes).toBeGreaterThan(0);
  });
});

describe("a head's id", () => {
  const base: HeadRef = { kind: "self", layer: 2, head: 3, quantity: "attention_x_gradient", version: 4 };

  it("differs in every part, so tiles of another kind, quantity, saliency version or head never stand in", () => {
    const others: HeadRef[] = [
      { ...base, kind: "cross" },
      { ...base, layer: 3 },
      { ...base, head: 2 },
      { ...base, quantity: "attention" },
      { ...base, version: 5 },
      { ...base, layer: -1 }, // the mean over layers
    ];
    const ids = new Set([base, ...others].map(headId));
    expect(ids.size).toBe(others.length + 1);
    expect(headId({ ...base })).toBe(headId(base));
  });

  it("files a tile under its head, window and block", () => {
    const spec = {
      head: base,
      window: [0, 256, 256, 512] as [number, number, number, number],
      block: [1, 1] as [number, number],
    };
    expect(tileKey(spec).startsWith(`${headId(base)}|`)).toBe(true);
    expect(tileKey(spec)).not.toBe(tileKey({ ...spec, block: [2, 2] }));
    expect(tileKey(spec)).not.toBe(tileKey({ ...spec, window: [0, 256, 0, 256] }));
  });

  it("keeps each head's colour range apart: a new saliency version waits for its own", () => {
    const { model, sent, broadcast } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    const spec = { head: base, window: [0, 13, 0, 13] as [number, number, number, number], block: [1, 1] as [number, number] };
    store.want([spec]);
    broadcast(...answer(sent[0], 7));
    expect(store.range(base)).toEqual([0, 0.5]);
    expect(store.range({ ...base, version: 5 })).toBeUndefined();
    expect(store.range({ ...base, quantity: "attention" })).toBeUndefined();
  });

  it("cuts only attention from the heads held in the page; other quantities are asked of the kernel", () => {
    const { model } = fakeModel();
    const store = new TileStore(model, new AbortController().signal, () => undefined);
    const codes = new Uint16Array([1, 3, 5, 7]);
    store.setEager({ what: "heads", shape: [1, 1, 2, 2], kind: "self", encoding: "dec3", data: new DataView(codes.buffer) });
    const at = (quantity: string) => ({
      head: { kind: "self", layer: 0, head: 0, quantity, version: 0 },
      window: [0, 2, 0, 2] as [number, number, number, number],
      block: [1, 1] as [number, number],
    });
    expect(store.get(at("attention"))).toBeDefined();
    expect(store.get(at("attention_x_gradient"))).toBeUndefined();
  });
});
