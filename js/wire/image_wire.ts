// How the image panel's data arrives (attn_widget/wire/payloads.py: images_payload,
// patches_payload): the input's pictures, encoded and downscaled for the wire but described by
// their ORIGINAL size, and per token axis a patch map of int32 rows (token, image, x0, y0, x1, y1)
// whose boxes are in those original pixels (end exclusive).
import { bytesOf } from "./decode";
import type { ImagesPayload, PatchesPayload, PatchMap } from "./types";

/** One picture as it travels: its original size, and its encoded bytes at the wire's size. */
export interface WirePicture {
  width: number; // original pixels: patch boxes are in these
  height: number;
  wireWidth: number;
  wireHeight: number;
  mime: string;
  bytes: Uint8Array;
}

export const PATCH_COLUMNS = 6;
const MIME: Record<string, string> = { jpeg: "image/jpeg", png: "image/png" };

/** The pictures of an `_images` payload, or [] (no pictures, or a payload that does not add up). */
export function picturesOf(payload: ImagesPayload | null | undefined): WirePicture[] {
  if (payload?.what !== "images") return [];
  const sizes = payload.sizes ?? [];
  const wire = payload.wire_sizes ?? [];
  const lengths = payload.lengths ?? [];
  const bytes = bytesOf(payload.data);
  const n = payload.shape?.[0] ?? 0;
  const total = lengths.reduce((a, b) => a + b, 0);
  const mime = MIME[payload.encoding ?? ""];
  if (!mime || sizes.length !== n || wire.length !== n || lengths.length !== n || total !== bytes.length) return [];
  const out: WirePicture[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const [width, height] = sizes[i];
    const [wireWidth, wireHeight] = wire[i];
    out.push({ width, height, wireWidth, wireHeight, mime, bytes: bytes.subarray(at, at + lengths[i]) });
    at += lengths[i];
  }
  return out;
}

/** The patch map of a `_patches` payload, or undefined (text: no patches). Little-endian int32,
 * copied when the view is misaligned. */
export function patchMapOf(payload: PatchesPayload | null | undefined): PatchMap | undefined {
  if (payload?.what !== "patches" || payload.encoding !== "int32") return undefined;
  const [count, columns] = payload.shape ?? [0, 0];
  const bytes = bytesOf(payload.data);
  if (columns !== PATCH_COLUMNS || bytes.byteLength !== count * PATCH_COLUMNS * 4 || count === 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cols = Array.from({ length: PATCH_COLUMNS }, () => new Int32Array(count));
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < PATCH_COLUMNS; c++) cols[c][i] = view.getInt32(4 * (i * PATCH_COLUMNS + c), true);
  }
  const [token, image, x0, y0, x1, y1] = cols;
  return { kind: payload.kind ?? "", count, token, image, x0, y0, x1, y1 };
}
