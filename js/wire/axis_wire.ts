// How token axes arrive (attn_widget/wire/axis.py): special/generated flags as one byte per token,
// and query fields that equal the key fields as null (resolved here against the same state). Each
// axis also carries its image patches, when it has any (image_wire.ts).
import { bytesOf } from "./decode";
import { patchMapOf } from "./image_wire";
import type { Axis, Flags, PatchMap, WidgetModel } from "./types";

/** Per-token flags as booleans: one byte each from the kernel, or a JSON list (older states). */
export function flagsOf(flags: Flags | null | undefined): boolean[] {
  if (!flags) return [];
  if (Array.isArray(flags)) return flags;
  return Array.from(bytesOf(flags), (b) => b !== 0);
}

/** The heatmap's axes from the traits: keys (columns) and queries (rows), the same tokens for
 * self-attention. */
export function tokenAxes(model: Pick<WidgetModel, "get">): { rows: Axis; cols: Axis } {
  const cols: Axis = {
    tokens: model.get("tokens") ?? [],
    special: flagsOf(model.get("special")),
    generated: flagsOf(model.get("generated")),
    patches: onAxis(patchMapOf(model.get("_patches")), model.get("tokens")?.length ?? 0),
  };
  // null: the same as the keys; older states (a saved notebook) have no query_ traits at all
  const tokens = model.get("_query_tokens");
  if (!tokens || tokens.length === 0) return { rows: cols, cols };
  const special = model.get("_query_special");
  const generated = model.get("_query_generated");
  const patches = model.get("_query_patches");
  const rows: Axis = {
    tokens,
    special: special == null ? cols.special : flagsOf(special),
    generated: generated == null ? cols.generated : flagsOf(generated),
    patches: patches === null ? cols.patches : onAxis(patchMapOf(patches), tokens.length),
  };
  return { rows, cols };
}

/** A patch map only when every token it names is on the axis (a map from another kind, mid
 * switch, is dropped rather than drawn on the wrong tokens). */
function onAxis(map: PatchMap | undefined, n: number): PatchMap | undefined {
  if (!map) return undefined;
  for (let i = 0; i < map.count; i++) if (map.token[i] < 0 || map.token[i] >= n) return undefined;
  return map;
}
