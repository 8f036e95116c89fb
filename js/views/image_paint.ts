// How the image panel paints numbers on a picture: each patch of the view shown filled with its
// value's colour, laid over the picture at the overlay's opacity (as one raster on screen and
// in PNGs; one rectangle per patch in an SVG), and the hover outline.
import type { Theme } from "../draw/canvas";
import { context2d } from "../draw/canvas";
import type { Rect } from "../draw/layout";
import type { PatchMap } from "../wire/types";
import type { RowNumbers } from "./image_row";

/** Where the picture sits: the plot in CSS pixels, the picture's original size, its patches. */
export interface PictureFrame {
  plot: Rect;
  picture: { width: number; height: number };
  map: PatchMap;
}

/** Map row `row`'s box in the plot's CSS pixels. */
export function boxRect({ plot, picture, map }: PictureFrame, row: number): Rect {
  const sx = plot.w / picture.width;
  const sy = plot.h / picture.height;
  return {
    x: plot.x + map.x0[row] * sx,
    y: plot.y + map.y0[row] * sy,
    w: (map.x1[row] - map.x0[row]) * sx,
    h: (map.y1[row] - map.y0[row]) * sy,
  };
}

/** The patches `rows` at their values' colours, as one raster at the device's resolution
 * (adjacent patches share their edges exactly: no seams), laid over the picture. `raster` is a
 * scratch canvas the panel keeps. Patches whose number is not here yet are left clear. */
export function paintRaster(
  ctx: CanvasRenderingContext2D,
  { plot, picture, map }: PictureFrame,
  rows: number[],
  numbers: RowNumbers,
  opacity: number,
  raster: HTMLCanvasElement,
): void {
  const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
  const pw = Math.max(1, Math.round(plot.w * dpr));
  const ph = Math.max(1, Math.round(plot.h * dpr));
  const pixels = new Uint8ClampedArray(pw * ph * 4);
  const sx = pw / picture.width;
  const sy = ph / picture.height;
  const lut = numbers.scale.lut;
  for (const i of rows) {
    const v = numbers.value(map.token[i]);
    if (v === undefined) continue;
    const c = 4 * numbers.scale.index(v);
    const x0 = Math.max(0, Math.round(map.x0[i] * sx));
    const x1 = Math.min(pw, Math.round(map.x1[i] * sx));
    const y0 = Math.max(0, Math.round(map.y0[i] * sy));
    const y1 = Math.min(ph, Math.round(map.y1[i] * sy));
    for (let y = y0; y < y1; y++) {
      for (let o = 4 * (y * pw + x0), end = 4 * (y * pw + x1); o < end; o += 4) {
        pixels[o] = lut[c];
        pixels[o + 1] = lut[c + 1];
        pixels[o + 2] = lut[c + 2];
        pixels[o + 3] = 255;
      }
    }
  }
  raster.width = pw;
  raster.height = ph;
  context2d(raster).putImageData(new ImageData(pixels, pw, ph), 0, 0);
  ctx.save();
  ctx.globalAlpha = opacity;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(raster, plot.x, plot.y, plot.w, plot.h);
  ctx.restore();
}

/** An SVG's patches: one rectangle each, at the overlay's opacity (an editor can restyle them). */
export function paintRects(
  ctx: CanvasRenderingContext2D,
  frame: PictureFrame,
  rows: number[],
  numbers: RowNumbers,
  opacity: number,
): void {
  ctx.save();
  ctx.globalAlpha = opacity;
  for (const i of rows) {
    const v = numbers.value(frame.map.token[i]);
    if (v === undefined) continue;
    const r = boxRect(frame, i);
    ctx.fillStyle = numbers.scale.css(v);
    ctx.fillRect(r.x, r.y, r.w, r.h);
  }
  ctx.restore();
}

/** The patch under a pointer: a light line inside a dark one, visible on any colour. */
export function outlineHover(ctx: CanvasRenderingContext2D, theme: Theme, r: Rect): void {
  ctx.strokeStyle = theme.outlineContrast;
  ctx.lineWidth = 3;
  ctx.strokeRect(r.x + 0.5, r.y + 0.5, Math.max(1, r.w - 1), Math.max(1, r.h - 1));
  ctx.strokeStyle = theme.text;
  ctx.lineWidth = 1.5;
  ctx.strokeRect(r.x + 0.5, r.y + 0.5, Math.max(1, r.w - 1), Math.max(1, r.h - 1));
}

/** The key tokens [first, last + 1) of the patches `rows`: the part of a row the panel needs. */
export function tokenRange(map: PatchMap | undefined, rows: number[]): [number, number] {
  if (!map || rows.length === 0) return [0, 0];
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of rows) {
    lo = Math.min(lo, map.token[i]);
    hi = Math.max(hi, map.token[i]);
  }
  return [lo, hi + 1];
}
