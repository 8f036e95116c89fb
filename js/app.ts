// One rendered view of the widget: builds the DOM, keeps the three views in step with the model's
// traits, and turns clicks into trait changes. Everything it registers is tied to `signal`.
import type { Theme } from "./canvas";
import { readTheme } from "./canvas";
import type { ColorScale } from "./colormap";
import { magnitudeScale, zeroBasedScale } from "./colormap";
import { Controls } from "./controls";
import { SaliencyControls } from "./saliency_controls";
import { codesOf, decodeCodes } from "./decode";
import { GridView } from "./grid";
import { HeadStore } from "./head_store";
import { HeatmapView } from "./heatmap";
import { StripView } from "./strip";
import { Tooltip } from "./tooltip";
import type { Axis, HeadMatrix, WidgetModel, WidgetState } from "./types";

type Part = "grid" | "heatmap" | "strip";

export class AttentionApp {
  readonly root: HTMLDivElement;
  private readonly store: HeadStore;
  private readonly grid: GridView;
  private readonly heatmap: HeatmapView;
  private readonly strip: StripView;
  private readonly controls: Controls;
  private readonly saliencyControls: SaliencyControls;
  private readonly title: HTMLDivElement;
  private readonly scales = new WeakMap<HeadMatrix, ColorScale>();
  private theme: Theme | null = null;
  private dirty = new Set<Part>();
  private frame = 0;
  private painted = false;
  private shown = ""; // "layer,head" of the exact matrix the heatmap draws, "" otherwise
  private preview = ""; // "layer,head" of the pooled preview the heatmap draws, "" otherwise
  private width = -1; // the root's width at the last layout
  private shapeQueued = false;

  constructor(
    private readonly model: WidgetModel,
    el: HTMLElement,
    private readonly signal: AbortSignal,
  ) {
    this.root = document.createElement("div");
    this.root.className = "attn-widget";
    this.root.dataset.testid = "attn-widget";
    const tooltip = new Tooltip(this.root);
    this.controls = new Controls(
      {
        kind: (id) => this.save({ kind: id }),
        metric: (id) => this.save({ grid_metric: id }),
        resetZoom: () => this.heatmap.resetView(),
        clearSelection: () => this.save({ query: -1, key: -1 }),
      },
      signal,
    );
    this.saliencyControls = new SaliencyControls(
      {
        quantity: (id) => this.save({ heatmap_quantity: id }),
        stripMethod: (id) => this.save({ strip_method: id }),
        targetToken: (text) => this.save({ target_token: text }),
        flowSpan: (name) => this.save({ flow_span: name }),
      },
      signal,
    );
    const body = div("attn-body");
    const gridPanel = div("attn-grid-panel");
    const heatPanel = div("attn-heat-panel");
    this.title = div("attn-title");
    const hint = div("attn-hint");
    hint.textContent = "hover for exact weights · click to select · scroll to zoom · drag to pan · double-click to reset";
    heatPanel.append(this.title, hint);
    const stripPanel = div("attn-strip-panel");
    body.append(gridPanel, heatPanel);
    this.root.prepend(this.controls.el, this.saliencyControls.el, body, stripPanel);
    el.appendChild(this.root);

    const themeOf = () => (this.theme ??= readTheme(this.root));
    this.store = new HeadStore(model, signal);
    this.grid = new GridView(gridPanel, themeOf, tooltip, {
      select: (layer, head) => this.save({ layer, head }),
      preview: (layer, head) => this.prefetch(layer, head),
    }, signal);
    this.heatmap = new HeatmapView(heatPanel, themeOf, tooltip, {
      select: (query, key) => this.save({ query, key }),
      windowChanged: (win) => {
        this.controls.setZoomed(win.rows < this.model.get("n_queries") || win.cols < this.model.get("n_tokens"));
      },
      target: (query) => this.save({ target_position: query }),
    }, signal);
    this.strip = new StripView(stripPanel, themeOf, tooltip, {
      select: (query, key) => this.save({ query, key }),
    }, signal);

    const shape: (keyof WidgetState)[] = ["kind", "kinds", "tokens", "special", "generated", "query_tokens", "query_special", "query_generated", "n_layers", "n_heads", "n_tokens", "n_queries", "attention_data", "heatmap_quantity", "saliency_version"];
    const saliency: (keyof WidgetState)[] = ["saliency_available", "strip_methods", "strip_method", "target_token", "target_label", "target_position", "busy", "status", "spans", "flow_span"];
    this.listen(saliency, () => this.loadSaliency());
    this.listen(["strip_values", "strip_values_for", "strip_method"], () => this.loadStrip());
    this.listen(shape, () => this.queueShape());
    this.listen(["grid_scores", "grid_metric", "grid_metric_options"], () => this.loadGrid());
    this.listen(["layer", "head"], () => this.loadHead());
    this.listen(["query", "key"], () => this.loadSelection());
    this.listen(["head_data"], () => this.receiveHeadData());
    this.listen(["head_preview"], () => this.receivePreview());

    const resize = new ResizeObserver(() => this.relayout());
    resize.observe(this.root);
    signal.addEventListener("abort", () => {
      resize.disconnect();
      cancelAnimationFrame(this.frame);
      this.root.remove();
    });
    this.loadShape();
    // Draw now rather than in the next frame: first paint should not wait for the frame clock.
    cancelAnimationFrame(this.frame);
    this.flush();
  }

  private listen(names: (keyof WidgetState)[], handler: () => void): void {
    for (const name of names) {
      const event = `change:${name}`;
      this.model.on(event, handler);
      this.signal.addEventListener("abort", () => this.model.off(event as `change:${string & keyof WidgetState}`, handler));
    }
  }

  /** Set traits and send them to the kernel in one message. */
  private save(changes: Partial<WidgetState>): void {
    for (const [name, value] of Object.entries(changes)) this.model.set(name as keyof WidgetState, value as never);
    this.model.save_changes();
  }

  /** A kind switch changes a dozen traits in one message: load the new shape once, after all of
   * them have landed (a microtask runs after the synchronous change events of one message). */
  private queueShape(): void {
    if (this.shapeQueued) return;
    this.shapeQueued = true;
    queueMicrotask(() => {
      this.shapeQueued = false;
      if (!this.signal.aborted) this.loadShape();
    });
  }

  private loadShape(): void {
    const cols = this.axis("");
    const rows = this.axis("query_");
    const kind = this.model.get("kind") ?? "self";
    this.controls.setKinds(this.model.get("kinds") ?? [], kind);
    const quantity = this.model.get("heatmap_quantity") ?? "attention";
    const eager = quantity === "attention" ? ((this.model.get("attention_data") as DataView | null) ?? null) : null;
    this.store.reset(kind, rows.tokens.length, cols.tokens.length, eager, quantity, this.model.get("saliency_version") ?? 0);
    if (quantity === "attention") this.heatmap.setQuantity("weight", "attention weight");
    else this.heatmap.setQuantity("A·∂L/∂A", "|attention × gradient|");
    this.heatmap.setAxes(rows, cols);
    this.strip.setAxes(rows, cols);
    this.loadSaliency();
    this.loadStrip();
    this.receiveHeadData();
    this.loadGrid();
    this.loadHead();
    this.receivePreview(); // a long input's first head may be a preview alone
    this.loadSelection();
    this.width = -1; // a new shape needs a new layout even at the same width
    this.relayout();
  }

  /** The saliency toolbar, spans, target marker and busy state, from the traits. */
  private loadSaliency(): void {
    const available = this.model.get("saliency_available") ?? false;
    const spans = this.model.get("spans") ?? [];
    const busy = this.model.get("busy") ?? false;
    this.saliencyControls.update({
      available,
      quantity: this.model.get("heatmap_quantity") ?? "attention",
      methods: this.model.get("strip_methods") ?? [],
      method: this.model.get("strip_method") ?? "attention",
      targetToken: this.model.get("target_token") ?? "",
      targetLabel: this.model.get("target_label") ?? "",
      spans,
      flowSpan: this.model.get("flow_span") ?? "",
      busy,
      status: this.model.get("status") ?? "",
    });
    this.root.dataset.busy = String(busy);
    this.heatmap.setSpans(spans);
    this.strip.setSpans(spans);
    const position = this.model.get("target_position") ?? -1;
    const n = this.model.get("n_queries") ?? 0;
    this.heatmap.setTarget(available ? (position >= 0 ? position : n - 1) : -1, available);
    this.schedule("heatmap", "strip");
  }

  /** The strip's saliency vector, when a saliency method is chosen and its numbers are here. */
  private loadStrip(): void {
    const method = this.model.get("strip_method") ?? "attention";
    if (method === "attention") {
      this.strip.setVector(null, false);
    } else {
      const codes = codesOf(this.model.get("strip_values"));
      const fresh = (this.model.get("strip_values_for") ?? "").startsWith(`${method},`);
      const n = this.model.get("n_tokens");
      if (fresh && codes.length === n) {
        const values = decodeCodes(codes);
        const option = (this.model.get("strip_methods") ?? []).find((m) => m.id === method);
        const name = option?.label ?? method;
        this.strip.setVector({ codes, values, label: this.model.get("strip_label") ?? "", valueName: name, shortName: option?.short ?? name, scale: magnitudeScale(values) }, true);
      } else {
        this.strip.setVector(null, true);
      }
    }
    this.schedule("strip");
  }

  private axis(prefix: "" | "query_"): Axis {
    const tokens = this.model.get(`${prefix}tokens`) ?? [];
    const special = this.model.get(`${prefix}special`) ?? [];
    const generated = this.model.get(`${prefix}generated`) ?? [];
    // Older states (a saved notebook) have no query_ traits: queries are the keys then.
    if (prefix === "query_" && tokens.length === 0) return this.axis("");
    return { tokens, special, generated };
  }

  private loadGrid(): void {
    const codes = codesOf(this.model.get("grid_scores"));
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    if (codes.length !== nLayers * nHeads) return;
    const metric = this.model.get("grid_metric");
    const options = this.model.get("grid_metric_options") ?? [];
    this.controls.setMetrics(options, metric);
    const label = options.find((o) => o.id === metric)?.label ?? metric;
    this.grid.setData({ nLayers, nHeads, codes, values: decodeCodes(codes), metricLabel: label });
    this.schedule("grid");
  }

  /** Show the selected head: from the store now, or from the kernel when it answers. */
  private loadHead(): void {
    const layer = this.model.get("layer");
    const head = this.model.get("head");
    const nHeads = this.model.get("n_heads");
    this.grid.setSelection(layer, head);
    const kinds = this.model.get("kinds") ?? [];
    const kind = kinds.length > 1 ? `${kinds.find((k) => k.id === this.model.get("kind"))?.label ?? this.model.get("kind")}, ` : "";
    const what = (this.model.get("heatmap_quantity") ?? "attention") === "attention" ? "attention weights" : "attention × gradient A·∂L/∂A (colour = size, tooltip = sign)";
    this.title.textContent = `${kind}layer ${layer} · head ${head}: ${what} (row = query, column = key)`;
    this.updateSelectionText();
    this.schedule("grid");
    const matrix = this.store.get(layer, head, nHeads);
    if (matrix) {
      this.showMatrix(matrix, layer, head);
      return;
    }
    // Lazy widgets: Python pushes the selected head into head_data when layer/head change, usually
    // within tens of milliseconds. Until then the old picture stays (a "loading" frame would cost a
    // whole redraw), but it no longer answers hovers with the old head's numbers. Only if the head
    // is slow do we say so, and later still we ask for it, in case this view missed that update.
    this.heatmap.setMatrix(null, null);
    this.strip.setMatrix(null, null);
    this.shown = this.preview = "";
    this.root.dataset.headShown = this.root.dataset.headPreview = "";
    const stillMissing = () =>
      !this.signal.aborted && this.isSelected(layer, head) && !this.store.get(layer, head, nHeads) && this.preview !== `${layer},${head}`;
    setTimeout(() => {
      if (!stillMissing()) return;
      this.shown = this.preview = "";
      this.heatmap.setMatrix(null, null, `loading layer ${layer}, head ${head}…`);
      this.strip.setMatrix(null, null);
      this.schedule("heatmap", "strip");
    }, 150);
    setTimeout(() => {
      if (!stillMissing()) return;
      this.store.fetch(layer, head, nHeads).then(
        (m) => this.isSelected(layer, head) && this.showMatrix(m, layer, head),
        (err: Error) => this.isSelected(layer, head) && this.showError(err),
      );
    }, 600);
  }

  private isSelected(layer: number, head: number): boolean {
    return this.model.get("layer") === layer && this.model.get("head") === head;
  }

  private receiveHeadData(): void {
    const data = this.model.get("head_data") as DataView | null;
    const [layer, head, kindIndex, quantity, version] = this.model.get("head_data_for") ?? [];
    if (!data || data.byteLength === 0 || layer === undefined) return;
    if (kindIndex !== undefined && !this.isCurrentHeadData(kindIndex, quantity, version)) return; // meant for a previous kind or quantity
    const matrix = this.store.put(layer, head, data);
    if (matrix && this.isSelected(layer, head)) this.showMatrix(matrix, layer, head);
  }

  private isCurrentHeadData(kindIndex: number, quantity: number, version: number): boolean {
    const kinds = this.model.get("kinds") ?? [];
    const kind = this.model.get("kind") ?? "self";
    const wantQuantity = (this.model.get("heatmap_quantity") ?? "attention") === "attention" ? 0 : 1;
    const wantVersion = wantQuantity ? (this.model.get("saliency_version") ?? 0) : 0;
    const kindOk = kinds.length === 0 || kinds[kindIndex]?.id === kind;
    return kindOk && quantity === wantQuantity && version === wantVersion;
  }

  /** A pooled preview of the selected head, drawn until its exact matrix arrives. */
  private receivePreview(): void {
    const [layer, head, factor, rows, cols] = this.model.get("head_preview_for") ?? [];
    if (layer === undefined || !this.isSelected(layer, head) || this.store.get(layer, head, this.model.get("n_heads"))) return;
    const codes = codesOf(this.model.get("head_preview"));
    if (codes.length !== rows * cols) return;
    this.showMatrix({ codes, values: decodeCodes(codes), rows, cols, factor }, layer, head);
    // A first head above Python's INITIAL_HEAD_BYTES comes as a preview alone: ask for the exact
    // values now (after a switch, Python pushes them right behind the preview instead).
    const pushed = (this.model.get("head_data") as DataView | null)?.byteLength ?? 0;
    if (pushed === 0) {
      this.store.fetch(layer, head, this.model.get("n_heads")).then(
        (m) => this.isSelected(layer, head) && this.showMatrix(m, layer, head),
        (err: Error) => this.isSelected(layer, head) && this.showError(err),
      );
    }
  }

  private showMatrix(matrix: HeadMatrix, layer: number, head: number): void {
    const key = `${layer},${head}`;
    this.shown = matrix.factor === 1 ? key : "";
    this.preview = matrix.factor === 1 ? "" : key;
    const signed = (this.model.get("heatmap_quantity") ?? "attention") !== "attention";
    let scale = this.scales.get(matrix);
    if (!scale) {
      scale = signed ? magnitudeScale(matrix.values) : zeroBasedScale(matrix.values);
      this.scales.set(matrix, scale);
    }
    this.heatmap.setMatrix(matrix, scale);
    this.strip.setMatrix(matrix.factor === 1 ? matrix : null, scale, signed ? "A·∂L/∂A" : "weight");
    this.schedule("heatmap", "strip");
  }

  private showError(err: Error): void {
    this.shown = this.preview = "";
    this.heatmap.setMatrix(null, null, `could not load this head: ${err.message}`);
    this.schedule("heatmap");
  }

  /** Lazy widgets: fetch the head under a pointer that rests on the grid, before the click.
   * (Prefetching neighbours of every shown head was tried: it queued work in the kernel ahead of
   * the user's next click and made random head switches slower.) */
  private prefetch(layer: number, head: number): void {
    if (this.store.eager) return;
    this.store.fetch(layer, head, this.model.get("n_heads")).catch(() => undefined);
  }

  private loadSelection(): void {
    const query = this.model.get("query");
    const key = this.model.get("key");
    this.heatmap.setSelection(query, key);
    this.strip.setSelection(query, key);
    this.updateSelectionText();
    this.schedule("heatmap", "strip");
  }

  private updateSelectionText(): void {
    const parts = [`layer ${this.model.get("layer")}`, `head ${this.model.get("head")}`];
    const q = this.model.get("query");
    const k = this.model.get("key");
    if (q >= 0) parts.push(`query ${q}`);
    if (k >= 0) parts.push(`key ${k}`);
    this.controls.setSelection(`selected: ${parts.join(" · ")}`);
  }

  private relayout(): void {
    const width = this.root.clientWidth || 900;
    if (width === this.width) return; // the observer's first call repeats what render just drew
    this.width = width;
    this.theme = null; // the theme may have changed along with the size
    const gridWidth = this.grid.layout(Math.min(380, width * 0.36)) + 20;
    const heatWidth = width - gridWidth >= 300 ? width - gridWidth : width;
    this.heatmap.layout(heatWidth);
    this.strip.layout(width);
    this.schedule("grid", "heatmap", "strip");
  }

  /** Draw the dirty parts once, in the next animation frame. */
  private schedule(...parts: Part[]): void {
    for (const p of parts) this.dirty.add(p);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Draw now whatever is dirty (also used by tests through the frame callback). */
  flush(): void {
    this.frame = 0;
    if (this.signal.aborted) return;
    const dirty = this.dirty;
    this.dirty = new Set();
    if (dirty.has("grid")) this.grid.draw();
    if (dirty.has("heatmap")) this.heatmap.draw();
    if (dirty.has("strip")) this.strip.draw();
    if (dirty.has("heatmap")) {
      this.root.dataset.headShown = this.shown;
      this.root.dataset.headPreview = this.preview;
    }
    if (!this.painted && (this.root.dataset.headShown || this.root.dataset.headPreview)) {
      this.painted = true;
      this.root.dataset.ready = "true";
      performance.mark("attn-widget:first-paint");
    }
  }
}

function div(className: string): HTMLDivElement {
  const d = document.createElement("div");
  d.className = className;
  return d;
}
