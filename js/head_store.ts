// Where each head's matrix comes from. Eager widgets carry every head in one buffer (slices, no
// copies). Lazy ones carry the selected head in a trait and fetch others by request id over custom
// messages, keeping a small LRU cache so revisits are instant and neighbours can be prefetched.
import { codesOf, decodeCodes } from "./decode";
import type { HeadMatrix, WidgetModel } from "./types";

export const CACHE_SIZE = 24;
const REQUEST_TIMEOUT_MS = 30_000;

interface Pending {
  resolve: (m: HeadMatrix) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class HeadStore {
  private readonly cache = new Map<string, HeadMatrix>();
  private readonly inflight = new Map<string, Promise<HeadMatrix>>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private eagerCodes: Uint16Array | null = null;
  private eagerValues: Float32Array | null = null;
  private rows = 0;
  private cols = 0;
  private kind = "";
  private quantity = "attention";
  private version = 0;

  constructor(private readonly model: WidgetModel, signal: AbortSignal) {
    const onMessage = (msg: unknown, buffers: DataView[]) => this.receive(msg, buffers);
    model.on("msg:custom", onMessage);
    signal.addEventListener("abort", () => {
      model.off("msg:custom", onMessage);
      for (const p of this.pending.values()) clearTimeout(p.timer);
      this.pending.clear();
    });
  }

  /** Reset for a new kind / shape / payload (eager buffer may be empty: lazy mode). */
  reset(kind: string, rows: number, cols: number, eager: DataView | null, quantity = "attention", version = 0): void {
    this.kind = kind;
    this.quantity = quantity;
    this.version = version;
    this.rows = rows;
    this.cols = cols;
    this.cache.clear();
    this.inflight.clear();
    const codes = eager ? codesOf(eager) : new Uint16Array(0);
    this.eagerCodes = codes.length > 0 ? codes : null;
    this.eagerValues = this.eagerCodes ? decodeCodes(this.eagerCodes) : null;
  }

  get eager(): boolean {
    return this.eagerCodes !== null;
  }

  private keyOf(layer: number, head: number): string {
    return `${layer}/${head}`;
  }

  /** The matrix if it is here now, else undefined (never waits). */
  get(layer: number, head: number, nHeads: number): HeadMatrix | undefined {
    if (this.eagerCodes && this.eagerValues) {
      const size = this.rows * this.cols;
      const start = (layer * nHeads + head) * size;
      if (start + size > this.eagerCodes.length) return undefined;
      return { codes: this.eagerCodes.subarray(start, start + size), values: this.eagerValues.subarray(start, start + size), rows: this.rows, cols: this.cols, factor: 1 };
    }
    const key = this.keyOf(layer, head);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // refresh LRU order
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** Store a head that arrived through a trait or a reply. */
  put(layer: number, head: number, data: DataView | ArrayBufferView): HeadMatrix | undefined {
    const codes = codesOf(data);
    if (codes.length !== this.rows * this.cols) return undefined; // stale shape: ignore
    const matrix = { codes, values: decodeCodes(codes), rows: this.rows, cols: this.cols, factor: 1 };
    const key = this.keyOf(layer, head);
    this.cache.delete(key);
    this.cache.set(key, matrix);
    while (this.cache.size > CACHE_SIZE) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return matrix;
  }

  /** The matrix, asking the kernel for it when it is not here (deduplicated per head). */
  fetch(layer: number, head: number, nHeads: number): Promise<HeadMatrix> {
    const here = this.get(layer, head, nHeads);
    if (here) return Promise.resolve(here);
    const key = this.keyOf(layer, head);
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const id = this.nextId++;
    const promise = new Promise<HeadMatrix>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer from the kernel for layer ${layer}, head ${head}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    }).finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    const request: Record<string, unknown> = { type: "head", id, layer, head, kind: this.kind };
    if (this.quantity !== "attention") Object.assign(request, { quantity: this.quantity, version: this.version });
    this.model.send(request);
    return promise;
  }

  private receive(msg: unknown, buffers: DataView[]): void {
    const m = msg as { type?: string; id?: number; layer?: number; head?: number; kind?: string; quantity?: string; version?: number; error?: string };
    if (!m || m.type !== "head" || typeof m.id !== "number") return;
    const waiting = this.pending.get(m.id);
    if (!waiting) return;
    this.pending.delete(m.id);
    clearTimeout(waiting.timer);
    if (m.error || !buffers?.length) {
      waiting.reject(new Error(m.error ?? "empty reply"));
      return;
    }
    if (m.kind !== undefined && m.kind !== this.kind) {
      waiting.reject(new Error(`a head of ${m.kind} attention arrived after switching to ${this.kind}`));
      return;
    }
    if ((m.quantity ?? "attention") !== this.quantity || (m.version !== undefined && m.version !== this.version)) {
      waiting.reject(new Error("a head for another heatmap quantity or target arrived late"));
      return;
    }
    const matrix = this.put(m.layer ?? -1, m.head ?? -1, buffers[0]);
    if (matrix) waiting.resolve(matrix);
    else waiting.reject(new Error("reply has the wrong size"));
  }
}

/** 1 + the number of entries in row[] larger than row[j]: the rank of a weight in its row, by the
 * values shown (equal shown values share a rank). */
export function rankInRow(row: ArrayLike<number>, j: number): number {
  const v = row[j];
  let rank = 1;
  for (let i = 0; i < row.length; i++) if (row[i] > v) rank++;
  return rank;
}
