// A page written by w.to_html: the widget with no kernel. `OfflineModel` stands in for the
// Jupyter model: it holds the saved state, applies the user's changes, and answers the views'
// tile requests from the heads saved in the page with the kernel's own reply format
// (attn_widget/protocol.py), so every view works unchanged. Heads left out of the page, and
// anything that needs the model (a new saliency target), get an answer that says so.
import { poolWindow } from "../tiles/lod";
import { codesOf, decodeCodes } from "../wire/decode";
import type { Payload, Reply, TileBatch, TileRequest } from "../wire/protocol";

type B64 = { $b64: string };

interface SavedQuantity {
  signed: boolean;
  version: number;
  peaks: number[];
  data: B64;
}

/** What attn_widget/export/page.py writes into the page. */
export interface PageData {
  format: "attn_widget/page";
  version: number;
  state: Record<string, unknown>;
  heads: {
    kind: string;
    shape: [number, number, number, number];
    included: [number, number][];
    quantities: Record<string, SavedQuantity>;
  };
  grids: Record<string, unknown>;
  strips: Record<string, { label: string; payload: unknown }>;
  /** What a head left out says after "layer L, head H" (a notebook's page: how to save it). */
  missing?: string;
}

function fromBase64(b64: string): Uint8Array {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** {"$b64": ...} anywhere in a value -> DataView (what Jupyter hands the views for bytes). */
export function decodeBinary(value: unknown): unknown {
  if (!value || typeof value !== "object") return value;
  if ("$b64" in (value as object)) {
    const bytes = fromBase64((value as B64).$b64);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (Array.isArray(value)) return value.map(decodeBinary);
  return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, decodeBinary(v)]));
}

interface HeldQuantity {
  signed: boolean;
  version: number;
  peaks: number[];
  codes: Uint16Array;
  values: Float32Array | null; // decoded on first use
}

type Handler = (...args: unknown[]) => void;

export class OfflineModel {
  private readonly state: Record<string, unknown>;
  private readonly listeners = new Map<string, Set<Handler>>();
  private pending = new Set<string>();
  private readonly quantities = new Map<string, HeldQuantity>();
  private readonly index = new Map<string, number>(); // "layer,head" -> position in the saved data
  private readonly shape: [number, number, number, number];
  private readonly kind: string;

  constructor(private readonly page: PageData) {
    this.state = decodeBinary(page.state) as Record<string, unknown>;
    this.shape = page.heads.shape;
    this.kind = page.heads.kind;
    for (const [i, [l, h]] of page.heads.included.entries()) this.index.set(`${l},${h}`, i);
    for (const [name, q] of Object.entries(page.heads.quantities)) {
      this.quantities.set(name, {
        signed: q.signed,
        version: q.version,
        peaks: q.peaks,
        codes: codesOf(decodeBinary(q.data) as DataView),
        values: null,
      });
    }
  }

  get(name: string): unknown {
    return this.state[name];
  }

  set(name: string, value: unknown): void {
    if (this.state[name] === value) return;
    this.state[name] = value;
    this.pending.add(name);
    this.emit(`change:${name}`);
  }

  on(event: string, handler: Handler): void {
    let handlers = this.listeners.get(event);
    if (!handlers) {
      handlers = new Set();
      this.listeners.set(event, handlers);
    }
    handlers.add(handler);
  }

  off(event?: string | null, handler?: Handler | null): void {
    if (!event) this.listeners.clear();
    else if (!handler) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(handler);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const h of [...(this.listeners.get(event) ?? [])]) h(...args);
  }

  /** What the kernel would do with the changes: look up the saved answer instead. */
  save_changes(): void {
    const changed = this.pending;
    this.pending = new Set();
    if (changed.has("target_token") || changed.has("target_position")) {
      this.set("status", "choosing another target needs the kernel: this page shows the target it was saved with");
    }
    if (changed.has("grid_metric") || changed.has("flow_span")) {
      const grid =
        this.page.grids[`${this.state.grid_metric}|${this.state.flow_span ?? ""}`] ??
        this.page.grids[`${this.state.grid_metric}|`];
      if (grid) this.set("_grid_scores", decodeBinary(grid));
    }
    if (changed.has("strip_method") || changed.has("layer") || changed.has("head")) this.loadStrip();
    this.pending = new Set(); // what the lookups set is not a user change
  }

  private loadStrip(): void {
    const method = String(this.state.strip_method ?? "attention");
    if (method === "attention") return;
    const perHead = `${method}|${this.state.layer}|${this.state.head}`;
    const saved = this.page.strips[perHead] ?? this.page.strips[`${method}|-1|-1`];
    if (saved) {
      this.set("_strip_values", decodeBinary(saved.payload));
      this.set("strip_label", saved.label);
    } else {
      this.set("_strip_values", null);
      this.set("strip_label", `${method} for layer ${this.state.layer}, head ${this.state.head} is not saved in this page`);
    }
  }

  /** Requests from the views: tiles are cut from the saved heads; explain is refused; the rest is ignored. */
  send(content: unknown): void {
    const batch = content as TileBatch;
    if (batch?.type === "tiles" && Array.isArray(batch.requests)) {
      for (const r of batch.requests) this.send(r);
      return;
    }
    const request = content as TileRequest;
    if ((content as { type?: string })?.type === "explain") {
      const id = (content as { id?: string }).id ?? null;
      const reply = { type: "explain", id, ok: false, error: "explaining a cell needs the kernel (this page is saved)" };
      queueMicrotask(() => this.emit("msg:custom", reply, []));
    }
    if (request?.type !== "tile") return;
    const answer = this.answer(request);
    queueMicrotask(() => this.emit("msg:custom", answer.reply, answer.buffers));
  }

  private answer(request: TileRequest): { reply: Reply; buffers: DataView[] } {
    const fail = (error: string) => ({ reply: { type: "reply" as const, id: request.id, ok: false, error }, buffers: [] });
    const q = this.quantities.get(request.quantity);
    const at = this.index.get(`${request.layer},${request.head}`);
    if (!q || request.kind !== this.kind || request.version !== q.version)
      return fail("this view is not saved in this page (it needs the kernel)");
    if (request.layer < 0 || request.head < 0)
      return fail("a mean over heads is computed by Python: it needs the kernel (this page holds single heads)");
    if (at === undefined)
      return fail(
        `layer ${request.layer}, head ${request.head} ${this.page.missing ?? "is not included in this page: write it with w.to_html(path, heads=[...]) to add it"}`,
      );
    const [, , rows, cols] = this.shape;
    const size = rows * cols;
    q.values ??= decodeCodes(q.codes);
    const cut = poolWindow(
      q.values.subarray(at * size, (at + 1) * size),
      q.codes.subarray(at * size, (at + 1) * size),
      cols,
      request.window,
      request.block[0],
      request.block[1],
      q.signed,
    );
    const peak = q.peaks[at];
    const cells = request.block[0] * request.block[1];
    const whereType = cut.where ? (cells <= 256 ? "u8" : cells <= 65536 ? "u16" : "u32") : null;
    const payload: Payload = {
      what: "tile",
      shape: [cut.rows, cut.cols],
      kind: request.kind,
      layer: request.layer,
      head: request.head,
      window: request.window,
      block: request.block,
      quantity: request.quantity,
      version: request.version,
      encoding: "dec3",
      where: whereType,
      range: [q.signed ? -peak : 0, peak],
    };
    const buffers = [new DataView(cut.codes.buffer)];
    if (cut.where) {
      const typed =
        whereType === "u8" ? Uint8Array.from(cut.where) : whereType === "u16" ? Uint16Array.from(cut.where) : cut.where;
      buffers.push(new DataView(typed.buffer));
    }
    return { reply: { type: "reply", id: request.id, ok: true, request, payload }, buffers };
  }
}
