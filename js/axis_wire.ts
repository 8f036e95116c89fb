// How token axes arrive (attn_widget/axis_wire.py): special/generated flags as one byte per token,
// and query fields that equal the key fields as null (resolved in app.ts against the same state).
import { bytesOf } from "./decode";
import type { Flags } from "./types";

/** Per-token flags as booleans: one byte each from the kernel, or a JSON list (older states). */
export function flagsOf(flags: Flags | null | undefined): boolean[] {
  if (!flags) return [];
  if (Array.isArray(flags)) return flags;
  return Array.from(bytesOf(flags), (b) => b !== 0);
}
