// Where the heatmap's and strip's numbers come from: tiles of a head (a window pooled into blocks,
// see lod.ts), cut in the page from every head when the widget is small (eager), else asked of
// the kernel. Requests follow what the views want now (`want`): at most MAX_IN_FLIGHT travel at
// once, and wanted-no-more ones never leave. Tiles are kept by bytes (least recently used first).
import { codesOf, decodeCodes } from "../wire/decode";
import type { HeadRef, Payload, Reply, TileBatch, TileRequest, Window } from "../wire/protocol";
import { answers, isReply, nextRequestId } from "../wire/protocol";
import { DEFAULT_QUANTITY } from "../wire/quantities";
import type { WidgetModel } from "../wire/types";
import { ByteLru } from "./byte_lru";
import { poolWindow } from "./lod";

export interface Tile {
  head: HeadRef;
  window: Window;
  block: [number, number];
  rows: number;
  cols: number;
  codes: Uint16Array; // dec3: the exact text of each block's maximum
  values: Float32Array;
  where: Uint32Array | null; // offset of each maximum inside its block (row * bc + col)
  range: [number, number]; // the whole head's [lo, hi], for the colour scale
  sink?: Uint16Array | null; // a head with a sink, at cell level: each row's share of it (dec3)
}

export interface TileSpec {
  head: HeadRef;
  window: Window;
  block: [number, number];
}

export const CACHE_BYTES = 48 * 1024 * 1024;
export const MAX_IN_FLIGHT = 16; // a full screen at 256 blocks a tile: up to 4 x 4 tiles
const REQUEST_TIMEOUT_MS = 60_000;
/** After the first reply of a burst (drawn at once: a picture as early as possible), replies that
 * arrive while others of the burst travel are drawn together, at most this long after the first
 * of them: not one full redraw per tile while the next replies wait. */
export const COALESCE_MS = 40;
/** After this long with requests waiting and no answer, the views say the kernel is silent
 * (a saved notebook reopened without its kernel, or a kernel that died). */
export const SILENCE_MS = 5_000;
/** What a view says when the host cannot reach the kernel at all (restarted, shut down). */
export const KERNEL_GONE =
  "the kernel cannot be reached: this head's weights come from Python on request, so it needs a running kernel (rerun the cell)";
const WHERE_BYTES: Record<string, number> = { u8: 1, u16: 2, u32: 4 };

/** One head's key (kind, quantity, version, layer, head): its tiles and its value range are
 * filed under it. */
export function headId(h: HeadRef): string {
  return `${h.kind}|${h.quantity}|${h.version}|${h.layer}|${h.head}`;
}

export function tileKey(spec: TileSpec): string {
  return `${headId(spec.head)}|${spec.window.join(",")}|${spec.block.join(",")}`;
}

function bytesOfTile(t: Tile): number {
  return t.codes.byteLength + t.values.byteLength + (t.where?.byteLength ?? 0) + 200;
}

interface Eager {
  kind: string;
  nHeads: number;
  rows: number;
  cols: number;
  codes: Uint16Array;
  values: Float32Array;
  sinks: Uint16Array | null; // (layers, heads, rows) sink shares, for heads with a sink
}

export class TileStore {
  private readonly cache = new ByteLru<string, Tile>(CACHE_BYTES, bytesOfTile);
  private readonly inflight = new Map<string, { request: TileRequest; timer: ReturnType<typeof setTimeout>; sentAt: number }>();
  private lastAnswer = 0; // performance.now() of the last reply from the kernel
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private changeTimer: ReturnType<typeof setTimeout> | undefined; // replies waiting to be drawn
  private burstShown = false; // the first reply since requests last all came back was drawn
  private readonly failed = new Map<string, string>();
  private queue: TileSpec[] = [];
  private spare: TileSpec[] = []; // asked for only when nothing the views need is waiting
  private eager: Eager | null = null;
  private readonly ranges = new Map<string, [number, number]>();
  /** Messages this view sent and received, for the benchmarks' largest-message figure. */
  largestReplyBytes = 0;

  constructor(
    private readonly model: WidgetModel,
    signal: AbortSignal,
    private readonly onChange: () => void,
  ) {
    const onMessage = (msg: unknown, buffers: DataView[]) => this.receive(msg, buffers);
    model.on("msg:custom", onMessage);
    signal.addEventListener("abort", () => {
      model.off("msg:custom", onMessage);
      for (const p of this.inflight.values()) clearTimeout(p.timer);
      clearTimeout(this.silenceTimer);
      clearTimeout(this.changeTimer);
      this.inflight.clear();
      this.queue = [];
    });
  }

  /** Every head of one kind held in the page (small widgets), or null: ask the kernel. */
  setEager(payload: (Payload & { data?: unknown }) | null | undefined): void {
    const data = payload?.data;
    if (payload?.what !== "heads" || !data) {
      this.eager = null;
      return;
    }
    const codes = codesOf(data as DataView);
    const [, nHeads, rows, cols] = payload.shape;
    const sinks = (payload as { sinks?: DataView }).sinks;
    this.eager = {
      kind: payload.kind ?? "self",
      nHeads,
      rows,
      cols,
      codes,
      values: decodeCodes(codes),
      sinks: sinks ? codesOf(sinks) : null,
    };
  }

  get isEager(): boolean {
    return this.eager !== null;
  }

  /** The tile if it is here now (never waits). */
  get(spec: TileSpec): Tile | undefined {
    const key = tileKey(spec);
    return this.cache.get(key) ?? this.cutEager(spec, key);
  }

  /** The kernel's error for this tile, if it refused it. */
  error(spec: TileSpec): string | undefined {
    return this.failed.get(tileKey(spec));
  }

  /** The head's value range once any of its tiles has arrived. */
  range(head: HeadRef): [number, number] | undefined {
    return this.ranges.get(headId(head));
  }

  /** How long requests have waited with no answer from the kernel (0 when none waits). */
  get silentMs(): number {
    if (this.inflight.size === 0) return 0;
    let oldest = Infinity;
    for (const p of this.inflight.values()) oldest = Math.min(oldest, p.sentAt);
    return performance.now() - Math.max(oldest, this.lastAnswer);
  }

  /** Requests are travelling or waiting to leave. */
  get busy(): boolean {
    return this.inflight.size > 0 || this.queue.length > 0;
  }

  pending(spec: TileSpec): boolean {
    return this.inflight.has(tileKey(spec));
  }

  /** The tiles the views need now, most important first; replaces what was wanted before. */
  want(specs: TileSpec[]): void {
    this.queue = specs.filter((s) => !this.has(s));
    this.pump();
  }

  /** Tiles worth having soon (the head under a resting pointer): sent when the kernel is idle. */
  prefetch(specs: TileSpec[]): void {
    this.spare = specs.filter((s) => !this.has(s));
    this.pump();
  }

  private has(spec: TileSpec): boolean {
    const key = tileKey(spec);
    return (
      this.cache.has(key) ||
      this.inflight.has(key) ||
      this.failed.has(key) ||
      (this.eager !== null && this.get(spec) !== undefined)
    );
  }

  private pump(): void {
    const batch: { key: string; request: TileRequest }[] = [];
    while (this.inflight.size < MAX_IN_FLIGHT && (this.queue.length > 0 || (this.spare.length > 0 && this.inflight.size === 0))) {
      const spec = (this.queue.length > 0 ? this.queue : this.spare).shift();
      if (!spec) break;
      if (this.has(spec)) continue;
      const key = tileKey(spec);
      const request: TileRequest = { type: "tile", id: nextRequestId(), ...spec.head, window: spec.window, block: spec.block };
      const timer = setTimeout(() => {
        if (this.inflight.get(key)?.request.id !== request.id) return;
        this.inflight.delete(key);
        this.failed.set(key, "no answer from the kernel");
        this.onChange();
        this.pump();
      }, REQUEST_TIMEOUT_MS);
      this.inflight.set(key, { request, timer, sentAt: performance.now() });
      batch.push({ key, request });
    }
    if (batch.length > 0) this.sendAll(batch);
  }

  /** The requests one pump lets go, in one message: every message to the kernel costs the host
   * a round of kernel status (busy, idle) to handle, in the server and in the page. */
  private sendAll(batch: { key: string; request: TileRequest }[]): void {
    const requests = batch.map((b) => b.request);
    const message: TileRequest | TileBatch = requests.length === 1 ? requests[0] : { type: "tiles", requests };
    try {
      this.model.send(message as unknown as Record<string, unknown>);
    } catch (err) {
      // A restarted or dead kernel: the host refuses to send at all. Say so now, not after a timeout.
      console.warn("attn_widget: the kernel cannot be reached", err);
      for (const { key } of batch) {
        clearTimeout(this.inflight.get(key)?.timer);
        this.inflight.delete(key);
        this.failed.set(key, KERNEL_GONE);
      }
      this.onChange();
      return;
    }
    clearTimeout(this.silenceTimer); // redraw when the wait becomes worth mentioning
    this.silenceTimer = setTimeout(() => this.inflight.size > 0 && this.onChange(), SILENCE_MS + 50);
  }

  private receive(msg: unknown, buffers: DataView[]): void {
    if (!isReply(msg) || typeof msg.id !== "string") return;
    let key: string | undefined;
    for (const [k, p] of this.inflight) if (p.request.id === msg.id) key = k;
    if (key === undefined) return; // another view's request
    const entry = this.inflight.get(key);
    if (!entry) return;
    const { request, timer } = entry;
    clearTimeout(timer);
    this.lastAnswer = performance.now();
    this.inflight.delete(key);
    if (!msg.ok) {
      this.failed.set(key, msg.error ?? "the kernel refused this tile");
    } else {
      const tile = this.decode(msg, request, buffers);
      if (tile) this.cache.set(key, tile);
      else this.failed.set(key, "a reply that does not answer the request");
    }
    this.pump();
    this.replied();
  }

  /** Tell the views about new replies: at once for the first of a burst and when none is still
   * travelling; otherwise once the burst is answered or COALESCE_MS after the first reply not yet
   * told, whichever comes first. */
  private replied(): void {
    if (this.inflight.size === 0 || !this.burstShown) {
      this.burstShown = this.inflight.size > 0;
      clearTimeout(this.changeTimer);
      this.changeTimer = undefined;
      this.onChange();
    } else if (this.changeTimer === undefined) {
      this.changeTimer = setTimeout(() => {
        this.changeTimer = undefined;
        this.onChange();
      }, COALESCE_MS);
    }
  }

  private decode(msg: Reply, request: TileRequest, buffers: DataView[]): Tile | null {
    const p = msg.payload;
    if (!p || !answers(msg, request) || !p.range) return null;
    const [rows, cols] = p.shape;
    const codes = codesOf(buffers[0]);
    if (codes.length !== rows * cols) return null;
    let where: Uint32Array | null = null;
    if (p.where) {
      const b = buffers[1];
      const size = WHERE_BYTES[p.where];
      if (!b || !size || b.byteLength !== rows * cols * size) return null;
      const raw = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      where = size === 4 ? new Uint32Array(raw) : Uint32Array.from(size === 2 ? new Uint16Array(raw) : new Uint8Array(raw));
    }
    this.largestReplyBytes = Math.max(
      this.largestReplyBytes,
      buffers.reduce((n, b) => n + b.byteLength, 0),
    );
    const head: HeadRef = {
      kind: request.kind,
      layer: request.layer,
      head: request.head,
      quantity: request.quantity,
      version: request.version,
    };
    this.ranges.set(headId(head), p.range);
    const sink = p.sink ? codesOf(buffers[where ? 2 : 1]) : null;
    if (sink && sink.length !== rows) return null;
    return {
      head,
      window: request.window,
      block: request.block,
      rows,
      cols,
      codes,
      values: decodeCodes(codes),
      where,
      range: p.range,
      sink,
    };
  }

  /** A tile cut from the heads held in the page (eager widgets: they hold attention only). */
  private cutEager(spec: TileSpec, key: string): Tile | undefined {
    const e = this.eager;
    const h = spec.head;
    // aggregates (layer or head -1) are means Python computes: asked of the kernel like any tile
    if (!e || h.quantity !== DEFAULT_QUANTITY || h.kind !== e.kind || h.layer < 0 || h.head < 0) return undefined;
    const size = e.rows * e.cols;
    const start = (h.layer * e.nHeads + h.head) * size;
    if (start + size > e.codes.length) return undefined;
    const values = e.values.subarray(start, start + size);
    const codes = e.codes.subarray(start, start + size);
    const range = this.eagerRange(h, values);
    const cut = poolWindow(values, codes, e.cols, spec.window, spec.block[0], spec.block[1], false);
    const [q0, q1] = spec.window;
    const row0 = (h.layer * e.nHeads + h.head) * e.rows;
    const cell = spec.block[0] === 1 && spec.block[1] === 1;
    const sink = e.sinks && cell ? e.sinks.subarray(row0 + q0, row0 + q1) : null;
    const tile: Tile = { head: h, window: spec.window, block: spec.block, ...cut, range, sink };
    this.cache.set(key, tile);
    return tile;
  }

  private eagerRange(h: HeadRef, values: Float32Array): [number, number] {
    const id = headId(h);
    let r = this.ranges.get(id);
    if (!r) {
      let max = 0;
      for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
      r = [0, max];
      this.ranges.set(id, r);
    }
    return r;
  }
}
