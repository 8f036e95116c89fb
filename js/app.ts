// One rendered view of the widget: builds the DOM, keeps the views in step with the model's
// traits, and turns clicks into trait changes. Everything it registers is tied to `signal`.

import { Controls } from "./controls/controls";
import { ExplainPanel } from "./controls/explain_panel";
import { ExportMenu } from "./controls/export_menu";
import { LivePanel } from "./controls/live_panel";
import { SaliencyControls } from "./controls/saliency_controls";
import { SearchBox } from "./controls/search_box";
import type { Theme } from "./draw/canvas";
import { readTheme } from "./draw/canvas";
import { followHostScheme } from "./draw/host_theme";
import { Tooltip } from "./draw/tooltip";
import { FigureExport } from "./export/answer";
import { TileStore } from "./tiles/tile_store";
import { GridView } from "./views/grid";
import { aggregateName, gridDataOf, gridProgressOf } from "./views/grid_data";
import { HeatmapView } from "./views/heatmap";
import { panelWidths } from "./views/image";
import { SearchView } from "./views/search_view";
import { ShapeLoads } from "./views/shape_loads";
import { queriesRowOf } from "./views/strip";
import { StripPanel, stripVectorFromModel } from "./views/strip_panel";
import { tokenAxes } from "./wire/axis_wire";
import type { HeadRef } from "./wire/protocol";
import { talkToKernel } from "./wire/protocol";
import type { Quantity } from "./wire/quantities";
import { quantityOf, runNames } from "./wire/quantities";
import { SALIENCY_TRAITS, SHAPE_TRAITS } from "./wire/trait_groups";
import type { WidgetModel, WidgetState } from "./wire/types";

type Part = "grid" | "heatmap" | "strip" | "image";

const WINDOW_SAVE_MS = 150; // a zoom gesture sends the window once it settles

export class AttentionApp {
  readonly root: HTMLDivElement;
  private readonly store: TileStore;
  private readonly grid: GridView;
  private readonly heatmap: HeatmapView;
  private readonly strip: StripPanel;
  private windowTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly controls: Controls;
  private readonly saliencyControls: SaliencyControls;
  private readonly figures: FigureExport;
  private readonly search: SearchView;
  private theme: Theme | null = null;
  private dirty = new Set<Part>();
  private frame = 0;
  private painted = false;
  private width = -1; // the root's width at the last layout
  private readonly shapes: ShapeLoads;

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
        compareQuantity: (id) => this.save({ heatmap_quantity: id }),
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
    const exportMenu = new ExportMenu(
      (choice) => void this.figures.download(choice),
      () => this.figures.panels,
      signal,
    );
    this.controls.el.appendChild(exportMenu.el);
    const body = div("attn-body");
    const gridPanel = div("attn-grid-panel");
    const heatPanel = div("attn-heat-panel");
    const stripPanel = div("attn-strip-panel");
    body.append(gridPanel, heatPanel);
    // a fork's comparison is one more app, on the forked widget's own model
    const showFork = (id: string, host: HTMLElement) =>
      void this.model.widget_manager?.get_model(id).then((m) => new AttentionApp(m as unknown as WidgetModel, host, signal));
    const live = new LivePanel(model, { showFork }, signal);
    const explain = new ExplainPanel(model, (layer, head) => this.save({ layer, head }), signal);
    this.root.prepend(this.controls.el, this.saliencyControls.el, live.el, explain.el, body, stripPanel);
    el.appendChild(this.root);
    followHostScheme(
      this.root,
      () => {
        this.theme = null; // the canvases take their colours from CSS at the next draw
        this.schedule("grid", "heatmap", "strip");
      },
      signal,
    );

    const themeOf = () => (this.theme ??= readTheme(this.root));
    this.store = new TileStore(model, signal, () => this.schedule("heatmap", "strip"));
    this.grid = new GridView(
      gridPanel,
      themeOf,
      tooltip,
      {
        select: (layer, head) => {
          this.askNow(layer, head);
          this.save({ layer, head });
        },
        preview: (layer, head) => this.prefetch(layer, head),
      },
      signal,
    );
    this.heatmap = new HeatmapView(
      heatPanel,
      themeOf,
      tooltip,
      {
        select: (query, key) => this.save({ query, key, queries: [] }),
        windowChanged: () => this.windowMoved(),
        target: (query) => this.save({ target_position: query }),
        queries: (rows) => this.save({ queries: rows }),
        hover: (query, key) => {
          this.strip.image.preview(query, key);
          live.preview(query);
        },
      },
      this.store,
      signal,
    );
    this.strip = new StripPanel(
      [stripPanel, body],
      themeOf,
      tooltip,
      {
        select: (query, key) => this.save({ query, key }),
        selectQuery: (query) => this.save({ query, queries: [] }),
        changed: () => this.schedule("image"),
        reveal: (key) => this.heatmap.revealKey(key),
      },
      this.store,
      signal,
    );
    signal.addEventListener("abort", () => clearTimeout(this.windowTimer));
    const toSearch = { changed: (text: string) => this.save({ search: text }), next: (step: 1 | -1) => this.search.next(step) };
    const searchBox = new SearchBox(toSearch, signal);
    this.controls.el.appendChild(searchBox.el);
    this.search = new SearchView(searchBox, this.heatmap, this.strip, () => this.schedule("heatmap", "strip"));

    const settled = () => this.heatmap.exact || !this.store.busy;
    this.shapes = new ShapeLoads(model, { load: () => this.loadShape(), settled }, signal);
    this.listen(SALIENCY_TRAITS, () => this.loadSaliency());
    this.listen(["_strip_values", "strip_method"], () => this.loadStrip());
    this.listen(SHAPE_TRAITS, () => this.shapes.queue());
    this.listen(["_grid_scores", "grid_metric", "_grid_metric_options"], () => this.loadGrid());
    this.listen(["layer", "head"], () => this.loadHead());
    this.listen(["query", "key"], () => this.loadSelection());
    this.listen(["queries", "_queries_row"], () => this.loadQueries());
    this.listen(["window"], () => this.loadWindow());
    this.listen(["search"], () => this.search.show(this.model.get("search") ?? ""));

    // Python's w.save asks a displayed view for the figure; it needs to know one is displayed.
    this.figures = new FigureExport(
      model,
      {
        root: this.root,
        grid: this.grid,
        heatmap: this.heatmap,
        strip: () => this.strip.shown,
        image: this.strip.image,
        flush: () => this.flush(),
      },
      signal,
    );

    const resize = new ResizeObserver(() => this.relayout());
    resize.observe(this.root);
    signal.addEventListener("abort", () => {
      resize.disconnect();
      cancelAnimationFrame(this.frame);
      this.root.remove();
    });
    this.shapes.load();
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
    talkToKernel(() => this.model.save_changes());
  }

  /** What the heatmap shows now (heatmap_quantity), with a comparison's run names. */
  private quantity(): Quantity {
    return quantityOf(this.model.get("heatmap_quantity"), this.model.get("compare_labels"));
  }

  private loadShape(): void {
    const { rows, cols } = tokenAxes(this.model);
    this.controls.setKinds(this.model.get("kinds") ?? [], this.model.get("kind") ?? "self");
    this.store.setEager(this.model.get("_attention_data"));
    this.controls.setCompare(runNames(this.model.get("compare_labels")), this.quantity().id);
    this.heatmap.setAxes(rows, cols);
    this.strip.image.setPictures(this.model.get("_images"));
    this.strip.setAxes(rows, cols);
    this.search.setAxes(rows, cols, this.model.get("search") ?? "");
    this.loadSaliency();
    this.loadStrip();
    this.loadGrid();
    this.loadWindow();
    this.loadHead();
    this.loadSelection();
    this.loadQueries();
    this.width = -1; // a new shape needs a new layout even at the same width
    this.relayout();
  }

  /** The window from the trait (Python set it, or another view moved it). */
  private loadWindow(): void {
    const w = this.model.get("window");
    if (!Array.isArray(w) || w.length !== 4) return;
    const [q0, q1, k0, k1] = w;
    const cur = this.heatmap.window;
    if (cur.row0 === q0 && cur.rows === q1 - q0 && cur.col0 === k0 && cur.cols === k1 - k0) return;
    this.heatmap.showWindow({ row0: q0, rows: q1 - q0, col0: k0, cols: k1 - k0 });
    this.afterWindow();
    this.schedule("heatmap", "strip");
  }

  /** The user zoomed or panned: follow with the track now, tell Python once the gesture settles. */
  private windowMoved(): void {
    this.afterWindow();
    this.schedule("strip");
    clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => {
      const w = this.heatmap.window;
      this.save({ window: [w.row0, w.row0 + w.rows, w.col0, w.col0 + w.cols] });
    }, WINDOW_SAVE_MS);
  }

  private afterWindow(): void {
    const w = this.heatmap.window;
    this.controls.setZoomed(w.rows < this.model.get("n_queries") || w.cols < this.model.get("n_tokens"));
    this.strip.setKeys(w.col0, w.cols);
  }

  /** The saliency toolbar, spans, target marker and busy state, from the traits. */
  private loadSaliency(): void {
    const available = this.model.get("saliency_available") ?? false;
    const spans = this.model.get("spans") ?? [];
    const busy = this.model.get("busy") ?? false;
    this.saliencyControls.update({
      available,
      quantity: this.quantity().id,
      methods: this.model.get("_strip_methods") ?? [],
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
    this.strip.setVector(stripVectorFromModel(this.model), (this.model.get("strip_method") ?? "attention") !== "attention");
    this.schedule("strip");
  }

  private loadGrid(): void {
    const metric = this.model.get("grid_metric");
    const options = this.model.get("_grid_metric_options") ?? [];
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    const label = options.find((o) => o.id === metric)?.label ?? metric;
    const payload = this.model.get("_grid_scores");
    const data = gridDataOf(payload, nLayers, nHeads, label);
    if (!payload || !data) return;
    this.controls.setMetrics(options, metric);
    const progress = gridProgressOf(payload, nLayers * nHeads);
    this.grid.setData(data, progress);
    this.root.dataset.gridExact = String(progress.exact);
    this.schedule("grid");
  }

  /** The head the heatmap and strip show now. */
  private headRef(): HeadRef {
    const quantity = this.quantity();
    return {
      kind: this.model.get("kind") ?? "self",
      layer: this.model.get("layer"),
      head: this.model.get("head"),
      quantity: quantity.id,
      version: quantity.versioned ? (this.model.get("_saliency_version") ?? 0) : 0,
    };
  }

  /** Several selected queries: marked on the heatmap; the strip shows Python's mean row when it
   * belongs to the head and queries shown now. */
  private loadQueries(): void {
    const queries = this.model.get("queries") ?? [];
    this.heatmap.setQueries(queries);
    this.strip.setQueriesRow(queriesRowOf(this.model.get("_queries_row"), this.headRef(), queries));
    this.updateSelectionText();
    this.schedule("heatmap", "strip");
  }

  /** Show the selected head: its tiles come from the store (cut here, or asked of the kernel). */
  private loadHead(): void {
    const layer = this.model.get("layer");
    const head = this.model.get("head");
    this.grid.setSelection(layer, head);
    const kinds = this.model.get("kinds") ?? [];
    const kindId = this.model.get("kind");
    const kind = kinds.length > 1 ? `${kinds.find((k) => k.id === kindId)?.label ?? kindId}, ` : "";
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    const aggregate = layer < 0 || head < 0 ? aggregateName(layer, head, nLayers, nHeads) : "";
    const which = aggregate || `layer ${layer} · head ${head}`;
    const quantity = this.quantity();
    this.heatmap.titleEl.textContent = `${kind}${which}: ${quantity.heading} (row = query, column = key)`;
    this.heatmap.setAggregate(aggregate);
    this.updateSelectionText();
    this.loadQueries();
    this.heatmap.setHead(this.headRef(), quantity);
    this.schedule("grid", "heatmap", "strip");
  }

  /** A click on the grid: the new head's tiles and the strip's row of it leave now, not after the
   * next frame's redraw (and the row not a round trip after the heatmap's tiles). */
  private askNow(layer: number, head: number): void {
    if (this.store.isEager) return;
    const next = { ...this.headRef(), layer, head };
    this.store.want([...this.heatmap.switchSpecs(next), ...this.strip.specsFor(next)]);
  }

  /** Lazy widgets: ask for the overview of the head under a pointer that rests on the grid. */
  private prefetch(layer: number, head: number): void {
    // an aggregate costs the kernel a pass over every head it averages: only on a click
    if (this.store.isEager || layer < 0 || head < 0) return;
    this.store.prefetch(this.heatmap.specsFor({ ...this.headRef(), layer, head }));
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
    this.controls.setSelection({
      layer: this.model.get("layer"),
      head: this.model.get("head"),
      query: this.model.get("query"),
      key: this.model.get("key"),
      queries: this.model.get("queries") ?? [],
    });
  }

  private relayout(): void {
    const width = this.root.clientWidth || 900;
    if (width === this.width) return; // the observer's first call repeats what render just drew
    this.width = width;
    this.theme = null; // the theme may have changed along with the size
    const gridWidth = this.grid.layout(Math.min(380, width * 0.36)) + 20;
    const widths = panelWidths(width, gridWidth, this.strip.image.shown);
    this.heatmap.layout(widths.heat);
    this.strip.image.layout(widths.image);
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
    if (dirty.has("heatmap")) {
      this.heatmap.draw();
      const scale = this.heatmap.colorScale;
      this.strip.setHead(scale ? this.headRef() : null, scale, this.quantity().valueName);
    }
    if (dirty.has("heatmap") || dirty.has("strip")) this.strip.draw();
    if (dirty.has("heatmap") || dirty.has("strip") || dirty.has("image")) this.strip.image.draw();
    this.store.want([...this.heatmap.wanted, ...this.strip.wanted]);
    if (dirty.has("heatmap")) {
      const key = `${this.model.get("layer")},${this.model.get("head")}`;
      this.root.dataset.headShown = this.heatmap.exact ? key : "";
      this.root.dataset.headPreview = !this.heatmap.exact && this.heatmap.drewTiles ? key : "";
    }
    if (!this.painted && (this.root.dataset.headShown || this.root.dataset.headPreview)) {
      this.painted = true;
      this.root.dataset.ready = "true";
      performance.mark("attn-widget:first-paint");
    }
    this.shapes.drawn();
  }
}

function div(className: string): HTMLDivElement {
  return Object.assign(document.createElement("div"), { className });
}
