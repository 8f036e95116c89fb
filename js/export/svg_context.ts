// A recording stand-in for CanvasRenderingContext2D that writes SVG: the views draw into it with
// the same code that draws on screen, so an exported SVG shows exactly what the canvas shows.
// It implements the subset of the 2D API the views use (rects, paths of lines and arcs, text,
// save/restore, translate/rotate, rectangular clips, drawImage of a canvas). Every string that
// reaches the file is escaped; the output holds no script, no event attribute and no reference
// outside the file (images are inline data: PNGs, and JPEG for a photograph).

import type { SvgExtras } from "../draw/svg_hooks";

type Matrix = [number, number, number, number, number, number]; // a b c d e f, as in DOMMatrix

interface State {
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  font: string;
  textAlign: CanvasTextAlign;
  textBaseline: CanvasTextBaseline;
  globalAlpha: number;
  matrix: Matrix;
  clip: string | null; // id of the clipPath in force
}

const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

/** Text for an SVG text node or attribute: &, <, >, quotes and control characters made safe. */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML forbids, replaced on purpose
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;")
  );
}

function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function multiply(m: Matrix, n: Matrix): Matrix {
  return [
    m[0] * n[0] + m[2] * n[1],
    m[1] * n[0] + m[3] * n[1],
    m[0] * n[2] + m[2] * n[3],
    m[1] * n[2] + m[3] * n[3],
    m[0] * n[4] + m[2] * n[5] + m[4],
    m[1] * n[4] + m[3] * n[5] + m[5],
  ];
}

/** Parse a canvas font shorthand ("italic 700 11px DejaVu Sans") into SVG attributes. */
function fontAttributes(font: string): string {
  const m = /^(.*?)(\d+(?:\.\d+)?)px\s+(.*)$/.exec(font.trim());
  if (!m) return `font-size="10"`;
  const words = m[1].trim().split(/\s+/).filter(Boolean);
  const italic = words.includes("italic");
  const weight = words.find((w) => /^\d{3}$/.test(w) || w === "bold");
  return [
    `font-family="${escapeXml(m[3])}"`,
    `font-size="${num(Number(m[2]))}"`,
    italic ? `font-style="italic"` : "",
    weight ? `font-weight="${weight}"` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

const ANCHOR: Record<string, string> = { left: "start", start: "start", center: "middle", right: "end", end: "end" };
const BASELINE: Record<string, string> = {
  top: "hanging",
  hanging: "hanging",
  middle: "central",
  alphabetic: "auto",
  ideographic: "ideographic",
  bottom: "text-after-edge",
};

/** Records drawing calls as SVG elements; `svg()` gives the document. */
export class SvgContext implements SvgExtras {
  private readonly parts: string[] = [];
  private readonly defs: string[] = [];
  private readonly stack: State[] = [];
  private state: State = {
    fillStyle: "#000",
    strokeStyle: "#000",
    lineWidth: 1,
    font: "10px sans-serif",
    textAlign: "start",
    textBaseline: "alphabetic",
    globalAlpha: 1,
    matrix: [...IDENTITY],
    clip: null,
  };
  private path: string[] = [];
  private pathRect: [number, number, number, number] | null = null; // the last rect() (for clip)
  private clipCount = 0;
  private nextTitle: string | null = null;
  imageSmoothingEnabled = true;

  /** `measure` is a real 2D context, used only to measure text the way the canvas does. */
  constructor(
    readonly width: number,
    readonly height: number,
    private readonly measure: CanvasRenderingContext2D,
    private readonly background: string | null,
  ) {}

  get fillStyle(): string {
    return this.state.fillStyle;
  }
  set fillStyle(v: string) {
    this.state.fillStyle = String(v);
  }
  get strokeStyle(): string {
    return this.state.strokeStyle;
  }
  set strokeStyle(v: string) {
    this.state.strokeStyle = String(v);
  }
  get lineWidth(): number {
    return this.state.lineWidth;
  }
  set lineWidth(v: number) {
    this.state.lineWidth = v;
  }
  get font(): string {
    return this.state.font;
  }
  set font(v: string) {
    this.state.font = v;
  }
  get textAlign(): CanvasTextAlign {
    return this.state.textAlign;
  }
  set textAlign(v: CanvasTextAlign) {
    this.state.textAlign = v;
  }
  get textBaseline(): CanvasTextBaseline {
    return this.state.textBaseline;
  }
  set textBaseline(v: CanvasTextBaseline) {
    this.state.textBaseline = v;
  }
  get globalAlpha(): number {
    return this.state.globalAlpha;
  }
  set globalAlpha(v: number) {
    this.state.globalAlpha = v;
  }

  save(): void {
    this.stack.push({ ...this.state, matrix: [...this.state.matrix] as Matrix });
  }

  restore(): void {
    const s = this.stack.pop();
    if (s) this.state = s;
  }

  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void {
    this.state.matrix = [a, b, c, d, e, f];
  }

  translate(x: number, y: number): void {
    this.state.matrix = multiply(this.state.matrix, [1, 0, 0, 1, x, y]);
  }

  rotate(angle: number): void {
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    this.state.matrix = multiply(this.state.matrix, [c, s, -s, c, 0, 0]);
  }

  scale(x: number, y: number): void {
    this.state.matrix = multiply(this.state.matrix, [x, 0, 0, y, 0, 0]);
  }

  measureText(text: string): TextMetrics {
    this.measure.font = this.state.font;
    return this.measure.measureText(text);
  }

  /** True when the transform only moves (and maybe scales): coordinates can be folded in. */
  private get axisAligned(): boolean {
    const m = this.state.matrix;
    return Math.abs(m[1]) < 1e-12 && Math.abs(m[2]) < 1e-12;
  }

  /** A point in figure coordinates (what the canvas does to path points as they are added). */
  private pt(x: number, y: number): [number, number] {
    const m = this.state.matrix;
    return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
  }

  /** An axis-aligned rectangle in figure coordinates, or null under a rotation. */
  private box(x: number, y: number, w: number, h: number): string | null {
    if (!this.axisAligned) return null;
    const m = this.state.matrix;
    const [x0, y0] = this.pt(x, y);
    const rw = w * m[0];
    const rh = h * m[3];
    return `x="${num(Math.min(x0, x0 + rw))}" y="${num(Math.min(y0, y0 + rh))}" width="${num(Math.abs(rw))}" height="${num(Math.abs(rh))}"`;
  }

  /** Where an element goes: its coordinates folded in when the transform only moves and
   * scales, else its own coordinates with the transform as an attribute. */
  private place(x: number, y: number, w: number, h: number): string {
    const folded = this.box(x, y, w, h);
    if (folded) return folded;
    const m = this.state.matrix;
    return `x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" transform="matrix(${m.map(num).join(" ")})"`;
  }

  /** Opacity for an element drawn now. */
  private common(): string {
    const out: string[] = [];
    if (this.state.globalAlpha < 1) out.push(`opacity="${num(this.state.globalAlpha)}"`);
    return out.join(" ");
  }

  /** Elements drawn under a clip sit in a <g clip-path> (the clip is in page coordinates; an
   * element's own transform would otherwise apply to its clip too). */
  private add(element: string): void {
    this.syncClip();
    this.parts.push(element);
  }

  private openClip: string | null = null;

  private syncClip(): void {
    if (this.openClip === this.state.clip) return;
    if (this.openClip) this.parts.push("</g>");
    this.openClip = this.state.clip;
    if (this.openClip) this.parts.push(`<g clip-path="url(#${this.openClip})">`);
  }

  fillRect(x: number, y: number, w: number, h: number): void {
    if (w <= 0 || h <= 0) return;
    this.add(`<rect ${this.place(x, y, w, h)} fill="${escapeXml(this.state.fillStyle)}" ${this.common()}/>`);
  }

  strokeRect(x: number, y: number, w: number, h: number): void {
    this.add(
      `<rect ${this.place(x, y, w, h)} fill="none" stroke="${escapeXml(this.state.strokeStyle)}" stroke-width="${num(this.state.lineWidth)}" ${this.common()}/>`,
    );
  }

  /** On a canvas this makes pixels transparent; here it paints the figure's background. */
  clearRect(x: number, y: number, w: number, h: number): void {
    if (!this.background || w <= 0 || h <= 0) return;
    this.add(`<rect ${this.place(x, y, w, h)} fill="${escapeXml(this.background)}" ${this.common()}/>`);
  }

  beginPath(): void {
    this.path = [];
    this.pathRect = null;
  }

  // Path points are transformed as they are added, as on a canvas.
  moveTo(x: number, y: number): void {
    const [px, py] = this.pt(x, y);
    this.path.push(`M${num(px)} ${num(py)}`);
  }

  lineTo(x: number, y: number): void {
    const [px, py] = this.pt(x, y);
    this.path.push(`L${num(px)} ${num(py)}`);
  }

  rect(x: number, y: number, w: number, h: number): void {
    const [x0, y0] = this.pt(x, y);
    const [x1, y1] = this.pt(x + w, y + h);
    this.pathRect = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
    const [rx, ry, rw, rh] = this.pathRect;
    this.path.push(`M${num(rx)} ${num(ry)}h${num(rw)}v${num(rh)}h${num(-rw)}Z`);
  }

  /** A full circle (the only arc the views draw) as two half arcs (under moves and even scales). */
  arc(x: number, y: number, radius: number): void {
    const [cx, cy] = this.pt(x, y);
    const r = radius * Math.abs(this.state.matrix[0]);
    this.path.push(
      `M${num(cx - r)} ${num(cy)}a${num(r)} ${num(r)} 0 1 0 ${num(2 * r)} 0a${num(r)} ${num(r)} 0 1 0 ${num(-2 * r)} 0`,
    );
  }

  closePath(): void {
    this.path.push("Z");
  }

  stroke(): void {
    if (!this.path.length) return;
    this.add(
      `<path d="${this.path.join("")}" fill="none" stroke="${escapeXml(this.state.strokeStyle)}" stroke-width="${num(this.state.lineWidth)}" ${this.common()}/>`,
    );
  }

  fill(): void {
    if (!this.path.length) return;
    this.add(`<path d="${this.path.join("")}" fill="${escapeXml(this.state.fillStyle)}" ${this.common()}/>`);
  }

  /** Rectangular clips only (what the views use), in the coordinates in force. */
  clip(): void {
    const r = this.pathRect;
    if (!r) return;
    const id = `clip${++this.clipCount}`;
    this.defs.push(
      `<clipPath id="${id}"><rect x="${num(r[0])}" y="${num(r[1])}" width="${num(r[2])}" height="${num(r[3])}"/></clipPath>`,
    );
    this.state.clip = id;
  }

  /** The full text of the next label, when the label is shortened to fit (kept as its <title>). */
  titleNext(full: string): void {
    this.nextTitle = full;
  }

  fillText(text: string, x: number, y: number, maxWidth?: number): void {
    const title = this.nextTitle !== null && this.nextTitle !== text ? `<title>${escapeXml(this.nextTitle)}</title>` : "";
    this.nextTitle = null;
    const anchor = ANCHOR[this.state.textAlign] ?? "start";
    const baseline = BASELINE[this.state.textBaseline] ?? "auto";
    let squeeze = "";
    if (maxWidth !== undefined && maxWidth > 0) {
      const w = this.measureText(text).width;
      if (w > maxWidth) squeeze = ` textLength="${num(maxWidth)}" lengthAdjust="spacingAndGlyphs"`;
    }
    const m = this.state.matrix;
    const [px, py] = this.pt(x, y);
    const where =
      this.axisAligned && m[0] === 1 && m[3] === 1
        ? `x="${num(px)}" y="${num(py)}"`
        : `x="${num(x)}" y="${num(y)}" transform="matrix(${m.map(num).join(" ")})"`; // rotated labels
    this.add(
      `<text ${where} fill="${escapeXml(this.state.fillStyle)}" ${fontAttributes(this.state.font)} text-anchor="${anchor}" dominant-baseline="${baseline}" xml:space="preserve"${squeeze} ${this.common()}>${title}${escapeXml(text)}</text>`,
    );
  }

  /** A canvas (rasterized tiles) as an inline PNG at its own resolution, scaled without smoothing. */
  /** A canvas as an inline image: blocks of values stay sharp (PNG, pixelated, as the views
   * set imageSmoothingEnabled = false), a photograph is smoothed when scaled (JPEG). */
  drawImage(image: HTMLCanvasElement, x: number, y: number, w: number, h: number): void {
    const sharp = !this.imageSmoothingEnabled;
    const href = sharp ? image.toDataURL("image/png") : image.toDataURL("image/jpeg", 0.92);
    const rendering = sharp ? ` image-rendering="pixelated" style="image-rendering:pixelated"` : "";
    this.add(`<image ${this.place(x, y, w, h)} preserveAspectRatio="none"${rendering} href="${href}" ${this.common()}/>`);
  }

  /** Start a named group (`data-part`): tests and readers find a view's cells by it. */
  beginGroup(name: string): void {
    this.add(`<g data-part="${escapeXml(name)}">`);
  }

  /** Ends the group begun last; the clip must not change in between (the views keep to that). */
  endGroup(): void {
    this.parts.push("</g>");
  }

  /** Elements drawn so far, as a group (for composing several views into one figure). */
  body(): string {
    if (this.openClip) {
      this.parts.push("</g>");
      this.openClip = null;
    }
    return this.parts.join("\n");
  }

  svg(title: string): string {
    const bg = this.background ? `<rect width="100%" height="100%" fill="${escapeXml(this.background)}"/>\n` : "";
    return [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<svg xmlns="http://www.w3.org/2000/svg" shape-rendering="crispEdges" width="${num(this.width)}" height="${num(this.height)}" viewBox="0 0 ${num(this.width)} ${num(this.height)}">`,
      `<title>${escapeXml(title)}</title>`,
      this.defs.length ? `<defs>${this.defs.join("")}</defs>` : "",
      bg + this.body(),
      `</svg>`,
      "",
    ].join("\n");
  }
}

/** Draw with `paint` into an SvgContext (typed as the 2D context the views expect). */
export function asContext(svg: SvgContext): CanvasRenderingContext2D {
  return svg as unknown as CanvasRenderingContext2D;
}
