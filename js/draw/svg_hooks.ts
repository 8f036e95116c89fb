// What an SVG export's context (export/svg_context.ts) adds to the 2D API: the views call these
// hooks while they draw, and on a canvas they are absent, so one drawing code serves both.

export interface SvgExtras {
  /** Group what is drawn until endGroup under this name (readers and tests find the cells). */
  beginGroup(name: string): void;
  endGroup(): void;
  /** The full text of the next (possibly shortened) label, as its tooltip in the file. */
  titleNext(full: string): void;
}

export function svgExtras(ctx: CanvasRenderingContext2D): Partial<SvgExtras> {
  return ctx as unknown as Partial<SvgExtras>;
}
