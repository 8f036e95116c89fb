// Figure export: what a panel shows on screen, re-drawn at any scale as PNG, or recorded as SVG
// (svg_context.ts). A figure is a list of pieces placed where they sit on screen: views that draw
// themselves (grid, heatmap, strip) and text lines (titles, captions) copied from the page.
import { context2d } from "../draw/canvas";
import { wrapText } from "../draw/layout";
import { asContext, SvgContext } from "./svg_context";

/** A view: its size in CSS pixels and how to draw it into a context (origin at its top left). */
export interface ViewPiece {
  x: number;
  y: number;
  width: number;
  height: number;
  draw(ctx: CanvasRenderingContext2D, vector: boolean): void;
}

/** A line of text from the page, with the style it has there. */
export interface TextPiece {
  x: number;
  y: number;
  text: string;
  font: string;
  color: string;
}

export interface Figure {
  width: number;
  height: number;
  background: string;
  views: ViewPiece[];
  texts: TextPiece[];
  title: string;
}

const MARGIN = 8;

/** Pieces in page coordinates -> a figure whose origin is the top left of everything, plus a margin. */
export function placeFigure(
  views: ViewPiece[],
  texts: TextPiece[],
  measure: (t: TextPiece) => number,
  background: string,
  title: string,
): Figure {
  const boxes = [
    ...views.map((v) => [v.x, v.y, v.x + v.width, v.y + v.height]),
    ...texts.map((t) => [t.x, t.y, t.x + measure(t), t.y + fontSize(t.font) * 1.3]),
  ];
  const x0 = Math.min(...boxes.map((b) => b[0])) - MARGIN;
  const y0 = Math.min(...boxes.map((b) => b[1])) - MARGIN;
  const x1 = Math.max(...boxes.map((b) => b[2])) + MARGIN;
  const y1 = Math.max(...boxes.map((b) => b[3])) + MARGIN;
  return {
    width: Math.ceil(x1 - x0),
    height: Math.ceil(y1 - y0),
    background,
    views: views.map((v) => ({ ...v, x: v.x - x0, y: v.y - y0 })),
    texts: texts.map((t) => ({ ...t, x: t.x - x0, y: t.y - y0 })),
    title,
  };
}

function fontSize(font: string): number {
  const m = /(\d+(?:\.\d+)?)px/.exec(font);
  return m ? Number(m[1]) : 12;
}

function drawTexts(ctx: CanvasRenderingContext2D, texts: TextPiece[]): void {
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  for (const t of texts) {
    ctx.font = t.font;
    ctx.fillStyle = t.color;
    ctx.fillText(t.text, t.x, t.y);
  }
}

/** The figure as PNG bytes, `scale` device pixels per CSS pixel. Each view is drawn on its own
 * transparent layer first, so what a view clears shows the figure's background, not a hole. */
export async function renderPng(fig: Figure, scale: number): Promise<Blob> {
  const out = document.createElement("canvas");
  out.width = Math.round(fig.width * scale);
  out.height = Math.round(fig.height * scale);
  const ctx = context2d(out);
  ctx.fillStyle = fig.background;
  ctx.fillRect(0, 0, out.width, out.height);
  for (const v of fig.views) {
    const layer = document.createElement("canvas");
    layer.width = Math.max(1, Math.round(v.width * scale));
    layer.height = Math.max(1, Math.round(v.height * scale));
    const lc = context2d(layer);
    lc.setTransform(scale, 0, 0, scale, 0, 0);
    v.draw(lc, false);
    ctx.drawImage(layer, Math.round(v.x * scale), Math.round(v.y * scale));
  }
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  drawTexts(ctx, fig.texts);
  return new Promise((resolve, reject) =>
    out.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode the PNG"))), "image/png"),
  );
}

/** The figure as an SVG document: vector shapes and <text>, heatmaps above 256 x 256 visible
 * cells as one inline image. */
export function renderSvg(fig: Figure): string {
  const measure = context2d(document.createElement("canvas"));
  const svg = new SvgContext(fig.width, fig.height, measure, fig.background);
  const ctx = asContext(svg);
  for (const v of fig.views) {
    ctx.save();
    ctx.translate(v.x, v.y);
    v.draw(ctx, true);
    ctx.restore();
  }
  drawTexts(ctx, fig.texts);
  return svg.svg(fig.title);
}

/** The first colour up the tree that is not transparent (what the figure sits on), else white. */
export function backgroundOf(el: HTMLElement | null): string {
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c && c !== "transparent" && !/^rgba\(.*,\s*0\)$/.test(c)) return c;
  }
  return "#ffffff";
}

/** The text pieces for an element of the page (its own style, where it sits): one per line it
 * wraps to on screen, so a long caption keeps the width it has there; none when empty. */
export function textsOf(el: HTMLElement): TextPiece[] {
  const text = el.textContent ?? "";
  if (!text.trim() || el.hidden || el.offsetParent === null) return [];
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const font = `${style.fontStyle === "italic" ? "italic " : ""}${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const x = box.left + parseFloat(style.paddingLeft || "0");
  const y = box.top + parseFloat(style.paddingTop || "0");
  const range = document.createRange();
  range.selectNodeContents(el);
  const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size;
  if (lines <= 1) return [{ x, y, text, font, color: style.color }];
  const measure = context2d(document.createElement("canvas"));
  measure.font = font;
  const width = el.clientWidth - parseFloat(style.paddingLeft || "0") - parseFloat(style.paddingRight || "0");
  const step = (range.getBoundingClientRect().height || box.height) / lines;
  return wrapText(text, width, (t) => measure.measureText(t).width).map((line, i) => ({
    x,
    y: y + i * step,
    text: line,
    font,
    color: style.color,
  }));
}

/** Offer bytes as a download (the toolbar's export). */
export function download(data: Blob, filename: string): void {
  const url = URL.createObjectURL(data);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
