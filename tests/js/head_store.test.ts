import { describe, expect, it } from "vitest";
import { CACHE_SIZE, HeadStore, rankInRow } from "../../js/head_store";
import type { WidgetModel } from "../../js/types";

type Listener = (...args: unknown[]) => void;

function fakeModel() {
  const listeners = new Map<string, Set<Listener>>();
  const sent: Array<Record<string, number | string>> = [];
  const model = {
    get: () => undefined,
    set: () => undefined,
    save_changes: () => undefined,
    on: (ev: string, cb: Listener) => void (listeners.get(ev) ?? listeners.set(ev, new Set()).get(ev)!).add(cb),
    off: (ev: string, cb: Listener) => void listeners.get(ev)?.delete(cb),
    send: (content: Record<string, number | string>) => void sent.push(content),
    widget_manager: {} as never,
  } as unknown as WidgetModel;
  const reply = (content: unknown, buffers: DataView[]) => listeners.get("msg:custom")?.forEach((cb) => cb(content, buffers));
  return { model, sent, reply, listeners };
}

const head = (n: number, fill: number) => new DataView(new Uint16Array(n * n).fill(fill).buffer);

describe("head store", () => {
  it("slices heads out of an eager buffer without copying", () => {
    const { model } = fakeModel();
    const store = new HeadStore(model, new AbortController().signal);
    const all = new Uint16Array(2 * 3 * 4).map((_, i) => i); // 2 layers x 3 heads x (2 x 2 tokens)
    store.reset("self", 2, 2, new DataView(all.buffer));
    const m = store.get(1, 2, 3)!;
    expect(Array.from(m.codes)).toEqual([20, 21, 22, 23]);
    expect(m.codes.buffer).toBe(all.buffer);
  });

  it("asks the kernel once per head and resolves by request id", async () => {
    const { model, sent, reply } = fakeModel();
    const store = new HeadStore(model, new AbortController().signal);
    store.reset("self", 2, 2, null);
    const a = store.fetch(0, 1, 4);
    const b = store.fetch(0, 1, 4);
    expect(sent).toEqual([{ type: "head", id: 1, layer: 0, head: 1, kind: "self" }]);
    reply({ type: "head", id: 99, layer: 0, head: 1 }, [head(2, 5)]); // someone else's answer
    reply({ type: "head", id: 1, layer: 0, head: 1 }, [head(2, 7)]);
    const [ma, mb] = await Promise.all([a, b]);
    expect(ma).toBe(mb);
    expect(Array.from(ma.codes)).toEqual([7, 7, 7, 7]);
    expect(store.get(0, 1, 4)).toBe(ma);
  });

  it("rejects with the kernel's error message", async () => {
    const { model, reply } = fakeModel();
    const store = new HeadStore(model, new AbortController().signal);
    store.reset("self", 2, 2, null);
    const p = store.fetch(5, 0, 4);
    reply({ type: "head", id: 1, layer: 5, head: 0, error: "no head (layer=5, head=0)" }, []);
    await expect(p).rejects.toThrow(/no head/);
  });

  it("holds non-square (cross-attention) heads and drops replies for a kind no longer shown", async () => {
    const { model, sent, reply } = fakeModel();
    const store = new HeadStore(model, new AbortController().signal);
    store.reset("cross", 2, 3, null);
    const p = store.fetch(0, 0, 2);
    expect(sent[0].kind).toBe("cross");
    store.reset("encoder", 3, 3, null);
    reply({ type: "head", id: 1, layer: 0, head: 0, kind: "cross" }, [new DataView(new Uint16Array(6).buffer)]);
    await expect(p).rejects.toThrow(/after switching to encoder/);
    expect(store.get(0, 0, 2)).toBeUndefined();
    store.reset("cross", 2, 3, null);
    const m = store.put(0, 0, new DataView(new Uint16Array(6).fill(3).buffer))!;
    expect([m.rows, m.cols]).toEqual([2, 3]);
  });

  it("keeps only the most recently used heads", () => {
    const { model } = fakeModel();
    const store = new HeadStore(model, new AbortController().signal);
    store.reset("self", 1, 1, null);
    for (let h = 0; h <= CACHE_SIZE; h++) store.put(0, h, head(1, h));
    expect(store.get(0, 0, 99)).toBeUndefined();
    expect(store.get(0, CACHE_SIZE, 99)).toBeDefined();
  });

  it("ignores heads of the wrong size and stops listening when aborted", () => {
    const { model, listeners } = fakeModel();
    const controller = new AbortController();
    const store = new HeadStore(model, controller.signal);
    store.reset("self", 3, 3, null);
    expect(store.put(0, 0, head(2, 1))).toBeUndefined();
    controller.abort();
    expect(listeners.get("msg:custom")?.size).toBe(0);
  });
});

describe("rank in row", () => {
  it("is 1 + the number of larger weights; equal weights share a rank", () => {
    const row = [0.1, 0.5, 0.2, 0.5];
    expect(rankInRow(row, 1)).toBe(1);
    expect(rankInRow(row, 3)).toBe(1);
    expect(rankInRow(row, 2)).toBe(3);
    expect(rankInRow(row, 0)).toBe(4);
  });
});
