// One rendered view of the widget: builds the DOM, keeps the three views in step with the model's
// traits, and turns clicks into trait changes. Everything it registers is tied to `signal`.

import { flagsOf } from "./axis_wire";
import type { Theme } from "./canvas";
import { context2d, readTheme } from "./canvas";
import { magnitudeScale } from "./colormap";
import { Controls } from "./controls";
import { codesOf, decodeCodes } from "./decode";
import type { ExportChoice } from "./export_menu";
import { ExportMenu } from "./export_menu";
import type { Figure, Format, Panel, TextPiece, ViewPiece } from "./figure";
import { backgroundOf, download, PANELS, placeFigure, renderPng, renderSvg, SCALES, textOf } from "./figure";
import { aggregateName, GridView } from "./grid";
import { HeatmapView } from "./heatmap";
import { followHostScheme } from "./host_theme";
import type { CellWindow } from "./layout";
import type { ExportRequest, HeadRef } from "./protocol";
import { EXPORT_CHUNK_BYTES, isExportRequest } from "./protocol";
import { SaliencyControls } from "./saliency_controls";
import { describeQueries, StripView } from "./strip";
import { TileStore } from "./tile_store";
import { Tooltip } from "./tooltip";
import { TrackView } from "./track";
import type { Axis, WidgetModel, WidgetState } from "./types";

type Part = "grid" | "heatmap" | "strip";

/** Above this many keys the strip is a track that follows the heatmap's key axis. */
export const TRACK_FROM_TOKENS = 512;
const WINDOW_SAVE_MS = 150; // a zoom gesture sends the window once it settles

export class AttentionApp {
  readonly root: HTMLDivElement;
  private readonly store: TileStore;
  private readonly grid: GridView;
  private readonly heatmap: HeatmapView;
  private readonly strip: StripView;
  private readonly track: TrackView;
  private readonly gridStatus: HTMLDivElement;
  private long = false; // the track replaces the word strip
  private windowTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly controls: Controls;
  private readonly saliencyControls: SaliencyControls;
  private readonly title: HTMLDivElement;
  private readonly viewId = `view-${Math.random().toString(36).slice(2, 10)}`;
  private theme: Theme | null = null;
  private dirty = new Set<Part>();
  private frame = 0;
  private painted = false;
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
    this.controls.el.appendChild(new ExportMenu((choice) => void this.downloadFigure(choice), signal).el);
    const body = div("attn-body");
    const gridPanel = div("attn-grid-panel");
    const heatPanel = div("attn-heat-panel");
    this.title = div("attn-title");
    const hint = div("attn-hint");
    hint.textContent =
      "hover for exact weights · click to select · shift-drag for several queries · scroll to zoom · drag to pan · double-click to reset";
    heatPanel.append(this.title, hint);
    const stripPanel = div("attn-strip-panel");
    body.append(gridPanel, heatPanel);
    this.root.prepend(this.controls.el, this.saliencyControls.el, body, stripPanel);
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
        select: (layer, head) => this.save({ layer, head }),
        preview: (layer, head) => this.prefetch(layer, head),
      },
      signal,
    );
    this.gridStatus = div("attn-grid-status");
    this.gridStatus.dataset.testid = "attn-grid-status";
    gridPanel.appendChild(this.gridStatus);
    this.heatmap = new HeatmapView(
      heatPanel,
      themeOf,
      tooltip,
      {
        select: (query, key) => this.save({ query, key, queries: [] }),
        windowChanged: (win) => this.windowMoved(win),
        target: (query) => this.save({ target_position: query }),
        queries: (rows) => this.save({ queries: rows }),
      },
      this.store,
      signal,
    );
    this.strip = new StripView(
      stripPanel,
      themeOf,
      tooltip,
      {
        select: (query, key) => this.save({ query, key }),
      },
      this.store,
      signal,
    );
    this.track = new TrackView(
      stripPanel,
      themeOf,
      tooltip,
      {
        select: (query, key) => this.save({ query, key }),
      },
      this.store,
      signal,
    );
    signal.addEventListener("abort", () => clearTimeout(this.windowTimer));

    const shape: (keyof WidgetState)[] = [
      "kind",
      "kinds",
      "tokens",
      "special",
      "generated",
      "_query_tokens",
      "_query_special",
      "_query_generated",
      "n_layers",
      "n_heads",
      "n_tokens",
      "n_queries",
      "_attention_data",
      "heatmap_quantity",
      "_saliency_version",
      "compare_labels",
    ];
    const saliency: (keyof WidgetState)[] = [
      "saliency_available",
      "_strip_methods",
      "strip_method",
      "target_token",
      "target_label",
      "target_position",
      "busy",
      "status",
      "spans",
      "flow_span",
    ];
    this.listen(saliency, () => this.loadSaliency());
    this.listen(["_strip_values", "strip_method"], () => this.loadStrip());
    this.listen(shape, () => this.queueShape());
    this.listen(["_grid_scores", "grid_metric", "_grid_metric_options"], () => this.loadGrid());
    this.listen(["layer", "head"], () => this.loadHead());
    this.listen(["query", "key"], () => this.loadSelection());
    this.listen(["queries", "_queries_row"], () => this.loadQueries());
    this.listen(["window"], () => this.loadWindow());

    // Python's w.save asks a displayed view for the figure; it needs to know one is displayed.
    const onMessage = (msg: unknown) => {
      if (isExportRequest(msg)) void this.answerExport(msg);
    };
    model.on("msg:custom", onMessage);
    this.send(() => this.model.send({ type: "view", event: "open", view: this.viewId }));
    signal.addEventListener("abort", () => {
      model.off("msg:custom", onMessage);
      this.send(() => this.model.send({ type: "view", event: "close", view: this.viewId }));
    });

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
    this.send(() => this.model.save_changes());
  }

  /** Talk to the kernel; a host whose kernel is gone throws ("Cannot send"): the page keeps
   * working with what it holds, and the views that need the kernel say so. */
  private send(talk: () => void): void {
    try {
      talk();
    } catch (err) {
      console.warn("attn_widget: the kernel cannot be reached", err);
    }
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
    this.store.setEager(this.model.get("_attention_data"));
    const labels = this.compareLabels();
    this.heatmap.setCompare(labels);
    this.controls.setCompare(labels, quantity);
    if (quantity === "attention_x_gradient") this.heatmap.setQuantity("A·∂L/∂A", "|attention × gradient|");
    else if (quantity === "difference" && labels) this.heatmap.setQuantity("weight", `${labels[1]} − ${labels[0]}`);
    else if (labels) this.heatmap.setQuantity("weight", `attention weight (${quantity === "b" ? labels[1] : labels[0]})`);
    else this.heatmap.setQuantity("weight", "attention weight");
    this.heatmap.setAxes(rows, cols);
    this.strip.setAxes(rows, cols);
    this.track.setAxes(rows, cols);
    this.long = cols.tokens.length > TRACK_FROM_TOKENS;
    this.strip.el.hidden = this.long;
    this.track.el.hidden = !this.long;
    // data-testid="attn-strip" marks whichever strip is on screen
    if (this.long) {
      delete this.strip.canvas.dataset.testid;
      this.track.canvas.dataset.testid = "attn-strip";
    } else {
      delete this.track.canvas.dataset.testid;
      this.strip.canvas.dataset.testid = "attn-strip";
    }
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
  private windowMoved(win: CellWindow): void {
    this.afterWindow();
    this.schedule("strip");
    clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => {
      const w = this.heatmap.window;
      this.save({ window: [w.row0, w.row0 + w.rows, w.col0, w.col0 + w.cols] });
    }, WINDOW_SAVE_MS);
    void win;
  }

  private afterWindow(): void {
    const w = this.heatmap.window;
    this.controls.setZoomed(w.rows < this.model.get("n_queries") || w.cols < this.model.get("n_tokens"));
    this.track.setKeys(w.col0, w.cols);
  }

  /** The saliency toolbar, spans, target marker and busy state, from the traits. */
  private loadSaliency(): void {
    const available = this.model.get("saliency_available") ?? false;
    const spans = this.model.get("spans") ?? [];
    const busy = this.model.get("busy") ?? false;
    this.saliencyControls.update({
      available,
      quantity: this.model.get("heatmap_quantity") ?? "attention",
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
    this.track.setSpans(spans);
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
      this.track.setVector(null, false);
    } else {
      const payload = this.model.get("_strip_values");
      const codes = codesOf(payload?.data);
      const fresh = payload?.what === "strip" && payload.method === method;
      const n = this.model.get("n_tokens");
      if (fresh && codes.length === n) {
        const values = decodeCodes(codes);
        const option = (this.model.get("_strip_methods") ?? []).find((m) => m.id === method);
        const name = option?.label ?? method;
        const vector = {
          codes,
          values,
          label: this.model.get("strip_label") ?? "",
          valueName: name,
          shortName: option?.short ?? name,
          scale: magnitudeScale(values),
        };
        this.strip.setVector(vector, true);
        this.track.setVector(vector, true);
      } else {
        this.strip.setVector(null, true);
        this.track.setVector(null, true);
      }
    }
    this.schedule("strip");
  }

  private axis(prefix: "" | "query_"): Axis {
    const keys: Axis = {
      tokens: this.model.get("tokens") ?? [],
      special: flagsOf(this.model.get("special")),
      generated: flagsOf(this.model.get("generated")),
    };
    if (prefix === "") return keys;
    // null: the same as the keys; older states (a saved notebook) have no query_ traits at all
    const tokens = this.model.get("_query_tokens");
    if (!tokens || tokens.length === 0) return keys;
    const special = this.model.get("_query_special");
    const generated = this.model.get("_query_generated");
    return {
      tokens,
      special: special == null ? keys.special : flagsOf(special),
      generated: generated == null ? keys.generated : flagsOf(generated),
    };
  }

  private loadGrid(): void {
    const payload = this.model.get("_grid_scores");
    const codes = codesOf(payload?.data);
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    if (payload?.what !== "scores" || codes.length !== nLayers * nHeads) return;
    const metric = this.model.get("grid_metric");
    const options = this.model.get("_grid_metric_options") ?? [];
    this.controls.setMetrics(options, metric);
    const label = options.find((o) => o.id === metric)?.label ?? metric;
    const bytes = (b: unknown) =>
      b ? new Uint8Array((b as DataView).buffer, (b as DataView).byteOffset, (b as DataView).byteLength) : null;
    const estimate = payload.exact
      ? null
      : {
          errors: codesOf(payload.error),
          exact: bytes(payload.exact_heads),
          lowerBound: bytes(payload.lower_bound),
          sample: payload.sample ?? 0,
          rows: payload.rows ?? 0,
        };
    const undefinedHeads = bytes(payload.undefined);
    const values = decodeCodes(codes);
    if (undefinedHeads) for (let i = 0; i < values.length; i++) if (undefinedHeads[i]) values[i] = Number.NaN;
    const aggregateCodes = codesOf(payload.aggregates);
    const aggregates =
      aggregateCodes.length === nLayers + nHeads + 1
        ? { codes: aggregateCodes, values: decodeCodes(aggregateCodes), undefined: bytes(payload.aggregates_undefined) }
        : null;
    this.grid.setData({ nLayers, nHeads, codes, values, metricLabel: label, estimate, undefinedHeads, aggregates });
    const done = payload.done ?? nLayers * nHeads;
    const total = payload.total ?? nLayers * nHeads;
    this.gridStatus.textContent = payload.exact
      ? ""
      : `refining scores: ${done} of ${total} heads exact · the rest estimated from ${payload.sample} of ${payload.rows} query rows (≈ in the tooltip)`;
    this.gridStatus.dataset.done = String(done);
    this.gridStatus.dataset.total = String(total);
    this.root.dataset.gridExact = String(!!payload.exact);
    this.schedule("grid");
  }

  /** The head the heatmap and strip show now. */
  private headRef(): HeadRef {
    const quantity = this.model.get("heatmap_quantity") ?? "attention";
    return {
      kind: this.model.get("kind") ?? "self",
      layer: this.model.get("layer"),
      head: this.model.get("head"),
      quantity,
      version: quantity === "attention_x_gradient" ? (this.model.get("_saliency_version") ?? 0) : 0,
    };
  }

  /** [a, b] run names of a comparison, or null. */
  private compareLabels(): [string, string] | null {
    const labels = this.model.get("compare_labels") ?? [];
    return labels.length === 2 ? [labels[0], labels[1]] : null;
  }

  /** Signed quantities: attention x gradient (coloured by size), b - a (diverging). */
  private signedQuantity(): boolean {
    const quantity = this.model.get("heatmap_quantity") ?? "attention";
    return quantity === "attention_x_gradient" || quantity === "difference";
  }

  /** Several selected queries: marked on the heatmap; the strip shows Python's mean row when it
   * belongs to the head and queries shown now. */
  private loadQueries(): void {
    const queries = this.model.get("queries") ?? [];
    this.heatmap.setQueries(queries);
    const payload = this.model.get("_queries_row");
    const ref = this.headRef();
    const fresh =
      !!payload &&
      payload.what === "strip" &&
      payload.kind === ref.kind &&
      payload.layer === ref.layer &&
      payload.head === ref.head &&
      payload.quantity === ref.quantity &&
      JSON.stringify(payload.queries ?? []) === JSON.stringify(queries);
    const codes = fresh ? codesOf(payload?.data) : new Uint16Array(0);
    const row = queries.length > 0 && codes.length > 0 ? { queries, codes, values: decodeCodes(codes) } : null;
    this.strip.setQueriesRow(row);
    this.updateSelectionText();
    this.schedule("heatmap", "strip");
  }

  /** Show the selected head: its tiles come from the store (cut here, or asked of the kernel). */
  private loadHead(): void {
    const layer = this.model.get("layer");
    const head = this.model.get("head");
    this.grid.setSelection(layer, head);
    const kinds = this.model.get("kinds") ?? [];
    const kind =
      kinds.length > 1 ? `${kinds.find((k) => k.id === this.model.get("kind"))?.label ?? this.model.get("kind")}, ` : "";
    const signed = this.signedQuantity();
    const quantity = this.model.get("heatmap_quantity") ?? "attention";
    const labels = this.compareLabels();
    const what =
      quantity === "attention_x_gradient"
        ? "attention × gradient A·∂L/∂A (colour = size, tooltip = sign)"
        : quantity === "difference" && labels
          ? `${labels[1]} − ${labels[0]} (red: more attention in ${labels[1]}, blue: less)`
          : labels
            ? `attention weights of ${quantity === "b" ? labels[1] : labels[0]}`
            : "attention weights";
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    const aggregate = layer < 0 || head < 0 ? aggregateName(layer, head, nLayers, nHeads) : "";
    const which = aggregate || `layer ${layer} · head ${head}`;
    this.title.textContent = `${kind}${which}: ${what} (row = query, column = key)`;
    this.heatmap.setAggregate(aggregate);
    this.updateSelectionText();
    this.loadQueries();
    this.heatmap.setHead(this.headRef(), signed);
    this.schedule("grid", "heatmap", "strip");
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
    this.track.setSelection(query, key);
    this.updateSelectionText();
    this.schedule("heatmap", "strip");
  }

  private updateSelectionText(): void {
    const l = this.model.get("layer");
    const h = this.model.get("head");
    const parts = [l < 0 ? "mean over layers" : `layer ${l}`, h < 0 ? "mean over heads" : `head ${h}`];
    const q = this.model.get("query");
    const k = this.model.get("key");
    const queries = this.model.get("queries") ?? [];
    if (queries.length > 0) parts.push(describeQueries(queries));
    else if (q >= 0) parts.push(`query ${q}`);
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
    this.track.layout(width);
    this.schedule("grid", "heatmap", "strip");
  }

  /** What a panel shows now, as a figure: its views where they sit, and its text lines. */
  figure(panel: Panel): Figure {
    this.flush(); // draw what is pending, so the figure is what the screen shows
    const views: ViewPiece[] = [];
    const texts: TextPiece[] = [];
    const place = (canvas: HTMLCanvasElement, draw: ViewPiece["draw"]) => {
      const box = canvas.getBoundingClientRect();
      views.push({
        x: box.left,
        y: box.top,
        width: parseFloat(canvas.style.width) || box.width,
        height: parseFloat(canvas.style.height) || box.height,
        draw,
      });
    };
    const text = (el: HTMLElement) => {
      const t = textOf(el);
      if (t) texts.push(t);
    };
    if (panel === "all" || panel === "grid") {
      place(this.grid.canvas, (ctx) => this.grid.draw(ctx));
      text(this.gridStatus);
    }
    if (panel === "all" || panel === "heatmap") {
      text(this.title);
      place(this.heatmap.canvas, (ctx, vector) => this.heatmap.draw(ctx, vector));
    }
    if (panel === "all" || panel === "strip") {
      const view = this.long ? this.track : this.strip;
      text(view.captionEl);
      place(view.canvas, (ctx) => view.draw(ctx));
    }
    const measure = context2d(document.createElement("canvas"));
    const width = (t: TextPiece) => {
      measure.font = t.font;
      return measure.measureText(t.text).width;
    };
    const l = this.model.get("layer");
    const h = this.model.get("head");
    return placeFigure(views, texts, width, backgroundOf(this.root), `attn_widget: layer ${l}, head ${h} (${panel})`);
  }

  /** The figure's bytes: PNG at `scale` device pixels per CSS pixel, or SVG. */
  async exportFigure(panel: Panel, format: Format, scale: number): Promise<Blob> {
    const fig = this.figure(panel);
    this.root.dataset.figureSize = `${fig.width}x${fig.height}`; // for tests: the size at scale 1
    if (format === "svg") return new Blob([renderSvg(fig)], { type: "image/svg+xml" });
    return renderPng(fig, scale);
  }

  private async downloadFigure(choice: ExportChoice): Promise<void> {
    const blob = await this.exportFigure(choice.panel, choice.format, choice.scale);
    const l = this.model.get("layer");
    const h = this.model.get("head");
    const suffix = choice.format === "png" ? `@${choice.scale}x.png` : ".svg";
    download(blob, `attention-${choice.panel}-L${l}H${h}${suffix}`);
  }

  /** w.save in Python: render the figure and send its bytes back in chunks far below what
   * Jupyter's server would drop (10 MiB). Failures go back as an error so Python never waits. */
  private async answerExport(req: ExportRequest): Promise<void> {
    const reply = { type: "export-chunk", id: req.id, view: this.viewId };
    try {
      if (!PANELS.includes(req.panel) || (req.format !== "png" && req.format !== "svg") || !SCALES.includes(req.scale)) {
        throw new Error(
          `cannot export panel=${JSON.stringify(req.panel)} format=${JSON.stringify(req.format)} scale=${JSON.stringify(req.scale)}`,
        );
      }
      const blob = await this.exportFigure(req.panel, req.format, req.scale);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const count = Math.max(1, Math.ceil(bytes.length / EXPORT_CHUNK_BYTES));
      const [width, height] = (this.root.dataset.figureSize ?? "0x0").split("x").map(Number);
      for (let i = 0; i < count; i++) {
        const chunk = bytes.slice(i * EXPORT_CHUNK_BYTES, (i + 1) * EXPORT_CHUNK_BYTES);
        this.model.send({ ...reply, index: i, count, bytes: bytes.length, width, height }, undefined, [chunk.buffer]);
      }
    } catch (err) {
      this.model.send({ ...reply, error: err instanceof Error ? err.message : String(err) });
    }
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
      const quantity = this.model.get("heatmap_quantity") ?? "attention";
      const scale = this.heatmap.colorScale;
      const labels = this.compareLabels();
      const name =
        quantity === "attention_x_gradient"
          ? "A·∂L/∂A"
          : quantity === "difference"
            ? labels
              ? `${labels[1]} − ${labels[0]}`
              : "b − a"
            : "weight";
      this.strip.setHead(scale ? this.headRef() : null, scale, name);
      this.track.setHead(scale ? this.headRef() : null, scale, name);
    }
    if (dirty.has("heatmap") || dirty.has("strip")) {
      if (this.long) this.track.draw();
      else this.strip.draw();
    }
    this.store.want([...this.heatmap.wanted, ...(this.long ? this.track.wanted : this.strip.wanted)]);
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
  }
}

function div(className: string): HTMLDivElement {
  const d = document.createElement("div");
  d.className = className;
  return d;
}
