// The messages between the views and the kernel (docs/protocol.md; attn_widget/protocol.py is the
// other side). Every binary payload has one header saying what it is; tile requests carry ids
// unique across every view on the page, and a reply is checked against the request it answers.

/** [q0, q1, k0, k1]: query rows q0..q1-1 and key columns k0..k1-1. */
export type Window = [number, number, number, number];

/** Which head a tile belongs to: the kind, layer and head, and the quantity shown (attention, or
 * attention x gradient at a saliency version). */
export interface HeadRef {
  kind: string;
  layer: number;
  head: number;
  quantity: string;
  version: number;
}

export interface TileRequest extends HeadRef {
  type: "tile";
  id: string;
  window: Window;
  block: [number, number]; // rows, cols per block: powers of two
}

/** Several tile requests in one message (those one pump lets go): the kernel answers each with
 * its own reply, as if it had come alone. */
export interface TileBatch {
  type: "tiles";
  requests: TileRequest[];
}

/** The header of every binary payload. */
export interface Payload {
  what: "tile" | "scores" | "strip" | "heads";
  shape: number[];
  kind?: string;
  layer?: number;
  head?: number;
  level?: number;
  window?: Window;
  block?: [number, number];
  quantity?: string;
  version?: number;
  encoding: "dec3";
  where?: "u8" | "u16" | "u32" | null; // offsets inside blocks: the smallest type holding br * bc
  range?: [number, number];
  sink?: "dec3" | null; // a head with a sink: each tile row's sink share follows, one dec3 code a row
}

export interface Reply {
  type: "reply";
  id: string | null;
  ok: boolean;
  request?: TileRequest;
  payload?: Payload;
  error?: string;
}

/** A tile is at most this many blocks (256 x 256): the kernel refuses more. */
export const TILE_SIDE = 256;

// Ids: a random prefix per page plus a counter shared by every view, so two views of one widget
// (or two pages on one kernel) never wait on the same id.
const PREFIX = Math.random().toString(36).slice(2, 10);
let counter = 0;

export function nextRequestId(): string {
  counter += 1;
  return `${PREFIX}-${counter}`;
}

export function isReply(msg: unknown): msg is Reply {
  return typeof msg === "object" && msg !== null && (msg as { type?: unknown }).type === "reply";
}

/** Does a reply answer exactly this request (same head, window and block)? */
export function answers(reply: Reply, request: TileRequest): boolean {
  const asked = reply.request;
  const got = reply.payload;
  if (!asked || !got) return false;
  const same = (a: readonly number[] | undefined, b: readonly number[]) =>
    !!a && a.length === b.length && a.every((v, i) => v === b[i]);
  return (
    asked.kind === request.kind &&
    asked.layer === request.layer &&
    asked.head === request.head &&
    asked.quantity === request.quantity &&
    asked.version === request.version &&
    same(asked.window, request.window) &&
    same(asked.block, request.block) &&
    got.what === "tile" &&
    same(got.window, request.window) &&
    same(got.block, request.block)
  );
}

/** What a figure shows: the whole widget or one panel ("image": the picture, with pictures only). */
export type Panel = "all" | "grid" | "heatmap" | "strip" | "image";
export type Format = "png" | "svg";
export const PANELS: Panel[] = ["all", "grid", "heatmap", "strip", "image"];
/** PNG scales offered (device pixels per CSS pixel); w.save accepts the same. */
export const SCALES = [1, 2, 4];

/** Python's w.save asks the views for a figure (attn_widget/export/figure.py). */
export interface ExportRequest {
  type: "export";
  id: string;
  panel: Panel;
  format: Format;
  scale: number;
}

/** The figure travels back in chunks of this many bytes (Jupyter's server drops messages over 10 MiB). */
export const EXPORT_CHUNK_BYTES = 1024 * 1024;

export function isExportRequest(msg: unknown): msg is ExportRequest {
  return (
    typeof msg === "object" &&
    msg !== null &&
    (msg as { type?: unknown }).type === "export" &&
    typeof (msg as { id?: unknown }).id === "string"
  );
}

/** Talk to the kernel; a host whose kernel is gone throws ("Cannot send"): the page keeps
 * working with what it holds, and the views that need the kernel say so. */
export function talkToKernel(talk: () => void): void {
  try {
    talk();
  } catch (err) {
    console.warn("attn_widget: the kernel cannot be reached", err);
  }
}
