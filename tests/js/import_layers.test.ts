// The front end's folders are layers: a folder imports only from the layers below it, no module
// imports itself round a circle, and no module grows past MAX_LINES. Read from the import statements of every js/**/*.ts, so a
// new file or import that breaks the rule fails here, naming the edge.
/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";

// Every module's source, keyed by its path under js/ ("views/heatmap.ts"), read by Vite.
const SOURCES: Record<string, string> = Object.fromEntries(
  Object.entries(import.meta.glob("../../js/**/*.ts", { query: "?raw", import: "default", eager: true })).map(
    ([path, source]) => [path.replace(/^\.\.\/\.\.\/js\//, ""), source as string],
  ),
);

/** Which layers each layer may import from (its own included). Folders are layers; the three
 * files at the top are layers of their own: app wires everything, render mounts the app, index
 * is the bundle's entry and nothing imports it. */
const MAY_IMPORT: Record<string, string[]> = {
  wire: ["wire"],
  draw: ["draw", "wire"],
  tiles: ["tiles", "wire"],
  views: ["views", "draw", "wire", "tiles"],
  controls: ["controls", "draw", "wire"],
  export: ["export", "views", "controls", "tiles", "draw", "wire"],
  app: ["views", "controls", "export", "tiles", "draw", "wire"],
  render: ["app", "export", "views", "controls", "tiles", "draw", "wire"],
  index: ["render"],
};

/** A module longer than this holds more than one concern: split it. */
const MAX_LINES = 450;

/** "views/heatmap.ts" -> "views"; "app.ts" -> "app". */
function layerOf(path: string): string {
  const parts = path.split("/");
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, "");
}

/** A relative specifier resolved against the importing file's folder: "views/a.ts" + "../wire/b" -> "wire/b". */
function resolveFrom(file: string, spec: string): string {
  const out = file.split("/").slice(0, -1);
  for (const part of spec.split("/")) {
    if (part === "..") out.pop();
    else if (part !== ".") out.push(part);
  }
  return out.join("/");
}

/** The module specifiers a source imports or re-exports (static, side-effect and dynamic). */
function specifiersOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]);
  return found;
}

interface Edge {
  from: string;
  to: string;
}

/** Every import between files under js/ (packages are left out), as paths relative to js/. */
function importGraph(): { files: string[]; edges: Edge[]; unresolved: Edge[] } {
  const files = Object.keys(SOURCES).sort();
  const edges: Edge[] = [];
  const unresolved: Edge[] = [];
  for (const file of files) {
    for (const spec of specifiersOf(SOURCES[file])) {
      if (!spec.startsWith(".")) continue; // a package (d3-scale-chromatic, @anywidget/types)
      const base = resolveFrom(file, spec);
      const target = [base, `${base}.ts`, `${base}/index.ts`].find((p) => p in SOURCES);
      if (target) edges.push({ from: file, to: target });
      else unresolved.push({ from: file, to: spec });
    }
  }
  return { files, edges, unresolved };
}

/** The first import circle found, as the files round it ("a.ts -> b.ts -> a.ts"), or null. */
function findCycle(edges: Edge[]): string[] | null {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "open");
    path.push(node);
    for (const to of next.get(node) ?? []) {
      const cycle = visit(to);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of next.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

/** The imports that break MAY_IMPORT, as "from -> to (layer -> layer)". */
function layerViolations(edges: Edge[]): string[] {
  return edges
    .filter((e) => !(MAY_IMPORT[layerOf(e.from)] ?? []).includes(layerOf(e.to)))
    .map((e) => `${e.from} -> ${e.to} (${layerOf(e.from)} may not import ${layerOf(e.to)})`);
}

describe("the front end's import layers", () => {
  const { files, edges, unresolved } = importGraph();

  it("reads the imports it checks (the parser sees the app's wiring)", () => {
    expect(files).toContain("index.ts");
    expect(edges).toContainEqual({ from: "index.ts", to: "render.ts" });
    expect(edges).toContainEqual({ from: "render.ts", to: "app.ts" });
    expect(unresolved).toEqual([]);
  });

  it("puts every module in a layer", () => {
    expect(files.filter((f) => !(layerOf(f) in MAY_IMPORT))).toEqual([]);
  });

  it("has no import that reaches up or sideways across layers", () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it("keeps every module at most MAX_LINES lines (one concern per file)", () => {
    const long = files.filter((f) => SOURCES[f].split("\n").length - 1 > MAX_LINES);
    expect(long.map((f) => `${f}: ${SOURCES[f].split("\n").length - 1} lines`)).toEqual([]);
  });

  it("has no import circle", () => {
    expect(findCycle(edges)?.join(" -> ") ?? null).toBeNull();
  });

  it("the checks catch what they are for", () => {
    // a view that reaches into the app, a circle of two, and imports written every way
    expect(layerViolations([{ from: "views/grid.ts", to: "app.ts" }])).toEqual([
      "views/grid.ts -> app.ts (views may not import app)",
    ]);
    expect(
      findCycle([
        { from: "a.ts", to: "b.ts" },
        { from: "b.ts", to: "a.ts" },
      ]),
    ).toEqual(["a.ts", "b.ts", "a.ts"]);
    const source = [
      'import type { A } from "./a";',
      'import {\n  B,\n  C,\n} from "../b";',
      'export { D } from "./d";',
      'export * from "./e";',
      'import "./f";',
      'const g = await import("./g");',
      '// import { H } from "./h";',
    ].join("\n");
    expect(specifiersOf(source)).toEqual(["./a", "../b", "./d", "./e", "./f", "./g"]);
  });
});
