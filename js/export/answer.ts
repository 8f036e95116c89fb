// Figures of what the widget shows: the toolbar's download, and Python's w.save, which asks a
// displayed view for the figure (a view tells the kernel when it opens and closes, so Python
// knows one is there to ask). Failures go back as an error so Python never waits.
import type { ExportChoice } from "../controls/export_menu";
import { context2d } from "../draw/canvas";
import type { GridView } from "../views/grid";
import type { HeatmapView } from "../views/heatmap";
import type { ImageView } from "../views/image";
import type { TokenStrip } from "../views/token_strip";
import type { ExportRequest, Format, Panel } from "../wire/protocol";
import { EXPORT_CHUNK_BYTES, isExportRequest, PANELS, SCALES, talkToKernel } from "../wire/protocol";
import type { WidgetModel } from "../wire/types";
import type { Figure, TextPiece, ViewPiece } from "./figure";
import { backgroundOf, download, placeFigure, renderPng, renderSvg, textsOf } from "./figure";

/** What a figure is made of: the views where they sit on screen and the text lines above them. */
export interface FigureParts {
  root: HTMLElement;
  grid: GridView;
  heatmap: HeatmapView;
  /** The strip view on screen (the word strip, or the track for long inputs). */
  strip(): TokenStrip;
  /** The picture with the strip's numbers on it (shown only for inputs with pictures). */
  image: ImageView;
  /** Draw what is pending, so the figure is what the screen shows. */
  flush(): void;
}

export class FigureExport {
  private readonly viewId = `view-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    private readonly model: WidgetModel,
    private readonly parts: FigureParts,
    signal: AbortSignal,
  ) {
    const onMessage = (msg: unknown) => {
      if (isExportRequest(msg)) void this.answer(msg);
    };
    model.on("msg:custom", onMessage);
    talkToKernel(() => model.send({ type: "view", event: "open", view: this.viewId }));
    signal.addEventListener("abort", () => {
      model.off("msg:custom", onMessage);
      talkToKernel(() => model.send({ type: "view", event: "close", view: this.viewId }));
    });
  }

  /** The panels this widget can export: the picture's only when it has one. */
  get panels(): Panel[] {
    return PANELS.filter((p) => p !== "image" || this.parts.image.shown);
  }

  /** What a panel shows now, as a figure: its views where they sit, and its text lines. */
  figure(panel: Panel): Figure {
    const { root, grid, heatmap, image } = this.parts;
    if (!this.panels.includes(panel)) throw new Error(`this widget shows no picture: there is no ${panel} panel to save`);
    this.parts.flush();
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
      texts.push(...textsOf(el));
    };
    if (panel === "all" || panel === "grid") {
      place(grid.canvas, (ctx) => grid.draw(ctx));
      text(grid.statusEl);
    }
    if (panel === "all" || panel === "heatmap") {
      text(heatmap.titleEl);
      place(heatmap.canvas, (ctx, vector) => heatmap.draw(ctx, vector));
    }
    if (panel === "all" || panel === "strip") {
      const view = this.parts.strip();
      text(view.captionEl);
      place(view.canvas, (ctx) => view.draw(ctx));
    }
    if ((panel === "all" || panel === "image") && image.shown) {
      text(image.captionEl);
      place(image.canvas, (ctx, vector) => image.draw(ctx, vector));
    }
    const measure = context2d(document.createElement("canvas"));
    const width = (t: TextPiece) => {
      measure.font = t.font;
      return measure.measureText(t.text).width;
    };
    const { layer, head } = this.head();
    return placeFigure(views, texts, width, backgroundOf(root), `attn_widget: layer ${layer}, head ${head} (${panel})`);
  }

  /** The figure's bytes: PNG at `scale` device pixels per CSS pixel, or SVG. */
  async render(panel: Panel, format: Format, scale: number): Promise<Blob> {
    const fig = this.figure(panel);
    this.parts.root.dataset.figureSize = `${fig.width}x${fig.height}`; // for tests: the size at scale 1
    if (format === "svg") return new Blob([renderSvg(fig)], { type: "image/svg+xml" });
    return renderPng(fig, scale);
  }

  /** The toolbar's export: the figure as a download named after the panel and head. */
  async download(choice: ExportChoice): Promise<void> {
    const blob = await this.render(choice.panel, choice.format, choice.scale);
    const { layer, head } = this.head();
    const suffix = choice.format === "png" ? `@${choice.scale}x.png` : ".svg";
    download(blob, `attention-${choice.panel}-L${layer}H${head}${suffix}`);
  }

  private head(): { layer: number; head: number } {
    return { layer: this.model.get("layer"), head: this.model.get("head") };
  }

  /** w.save in Python: render the figure and send its bytes back in chunks far below what
   * Jupyter's server would drop (10 MiB). */
  private async answer(req: ExportRequest): Promise<void> {
    const reply = { type: "export-chunk", id: req.id, view: this.viewId };
    try {
      if (!PANELS.includes(req.panel) || (req.format !== "png" && req.format !== "svg") || !SCALES.includes(req.scale)) {
        throw new Error(
          `cannot export panel=${JSON.stringify(req.panel)} format=${JSON.stringify(req.format)} scale=${JSON.stringify(req.scale)}`,
        );
      }
      const blob = await this.render(req.panel, req.format, req.scale);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const count = Math.max(1, Math.ceil(bytes.length / EXPORT_CHUNK_BYTES));
      const [width, height] = (this.parts.root.dataset.figureSize ?? "0x0").split("x").map(Number);
      for (let i = 0; i < count; i++) {
        const chunk = bytes.slice(i * EXPORT_CHUNK_BYTES, (i + 1) * EXPORT_CHUNK_BYTES);
        this.model.send({ ...reply, index: i, count, bytes: bytes.length, width, height }, undefined, [chunk.buffer]);
      }
    } catch (err) {
      this.model.send({ ...reply, error: err instanceof Error ? err.message : String(err) });
    }
  }
}
