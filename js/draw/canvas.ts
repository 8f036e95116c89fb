// Canvas plumbing shared by the views: crisp HiDPI sizing, and the theme read from CSS so light
// and dark JupyterLab themes both stay readable.

export interface Theme {
  text: string;
  muted: string;
  font: string;
  fontSize: number;
  outline: string;
  outlineContrast: string;
  generated: string; // labels of generated tokens
  match: string; // tokens a search found
}

/** Size a canvas to cssW x cssH CSS pixels at the device pixel ratio and return its context
 * with a transform that lets callers draw in CSS pixels. */
export function sizeCanvas(canvas: HTMLCanvasElement, cssW: number, cssH: number): CanvasRenderingContext2D {
  const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
  const w = Math.max(1, Math.round(cssW * dpr));
  const h = Math.max(1, Math.round(cssH * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = context2d(canvas);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Colours and font from the widget root's computed style (set from JupyterLab's CSS variables). */
export function readTheme(root: HTMLElement): Theme {
  const style = getComputedStyle(root);
  const get = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const fontSize = parseFloat(style.fontSize) || 12;
  return {
    text: style.color || "#222",
    muted: get("--attn-muted", "#888"),
    font: style.fontFamily || "sans-serif",
    fontSize,
    outline: get("--attn-outline", "#ff2a6d"),
    outlineContrast: get("--attn-outline-contrast", "#ffffff"),
    generated: get("--attn-generated", "#1f77b4"),
    match: get("--attn-match", "#d97706"),
  };
}

export function font(theme: Theme, sizePx: number, style = ""): string {
  return `${style} ${sizePx}px ${theme.font}`.trim();
}

/** Mark a rectangle twice (a light inner line inside a bright outer one) so it shows on any colour. */
export function strokeMark(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  x: number,
  y: number,
  w: number,
  h: number,
  width = 2,
): void {
  ctx.save();
  ctx.lineWidth = width;
  ctx.strokeStyle = theme.outline;
  ctx.strokeRect(x - width / 2, y - width / 2, w + width, h + width);
  ctx.lineWidth = 1;
  ctx.strokeStyle = theme.outlineContrast;
  ctx.strokeRect(x + 0.5, y + 0.5, Math.max(0, w - 1), Math.max(0, h - 1));
  ctx.restore();
}

/** The keyboard's focused cell: dashes of white over a solid dark line, seen on every colour of the
 * colour map in light and dark themes alike (one colour vanishes on cells of its own shade). */
export function strokeFocus(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#000000";
  ctx.strokeRect(x, y, w, h);
  ctx.setLineDash([3, 2]);
  ctx.strokeStyle = "#ffffff";
  ctx.strokeRect(x, y, w, h);
  ctx.restore();
}

/** Set the testability attributes (data-plot, data-rows, data-cols; docs/protocol.md) on a view's canvas. */
export function setPlotAttributes(
  canvas: HTMLCanvasElement,
  plot: { x: number; y: number; w: number; h: number },
  rows: number,
  cols: number,
): void {
  canvas.dataset.rows = String(rows);
  canvas.dataset.cols = String(cols);
  canvas.dataset.plot = [plot.x, plot.y, plot.w, plot.h].map((v) => String(Math.round(v * 100) / 100)).join(",");
}

/** A view's canvas with a transparent overlay canvas on top (for hover marks, so hovering never
 * redraws the view), appended to `container`. */
export function layeredCanvas(
  container: HTMLElement,
  testid: string,
  label: string,
): { canvas: HTMLCanvasElement; overlay: HTMLCanvasElement } {
  const wrap = document.createElement("div");
  wrap.className = "attn-canvas-wrap";
  const canvas = document.createElement("canvas");
  canvas.dataset.testid = testid;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  const overlay = document.createElement("canvas");
  overlay.className = "attn-overlay";
  wrap.append(canvas, overlay);
  container.appendChild(wrap);
  return { canvas, overlay };
}

/** A canvas's 2D context; browsers give none only when out of canvas memory: say so. */
export function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("attn_widget: canvas 2D context unavailable");
  return ctx;
}

/** Clear a whole canvas whatever its transform; returns its context (null if unavailable). */
export function clearCanvas(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.restore();
  return ctx;
}
