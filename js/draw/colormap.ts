// Value -> colour. The ramp is viridis (perceptual, colour-blind safe, dark = low) from
// d3-scale-chromatic, sampled once into a 256-entry RGBA table so drawing a pixel is an index.
import { interpolateRdBu, interpolateViridis } from "d3-scale-chromatic";

export const LUT_SIZE = 256;

/** RGBA bytes of `size` evenly spaced samples of an interpolator returning CSS colours. */
export function buildLut(interpolate: (t: number) => string = interpolateViridis, size = LUT_SIZE): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(size * 4);
  for (let i = 0; i < size; i++) {
    const [r, g, b] = parseColor(interpolate(size === 1 ? 0 : i / (size - 1)));
    lut.set([r, g, b, 255], 4 * i);
  }
  return lut;
}

/** "#rrggbb" or "rgb(r, g, b)" -> [r, g, b]. */
export function parseColor(css: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`unrecognised colour ${JSON.stringify(css)}`);
}

/** A linear map from [lo, hi] onto the table; values outside clamp to the ends. */
export class ColorScale {
  readonly lut: Uint8ClampedArray;
  constructor(
    readonly lo: number,
    readonly hi: number,
    lut: Uint8ClampedArray = viridis(),
    /** Colour by |value| (signed saliency: the colour shows size, the tooltip the sign). */
    readonly magnitude = false,
  ) {
    this.lut = lut;
  }

  /** Index into the table (0..LUT_SIZE-1) for a value; NaN maps to 0. */
  index(value: number): number {
    const span = this.hi - this.lo;
    const v = this.magnitude ? Math.abs(value) : value;
    const t = span > 0 ? (v - this.lo) / span : 0;
    if (!(t > 0)) return 0;
    if (t >= 1) return LUT_SIZE - 1;
    return Math.floor(t * LUT_SIZE);
  }

  css(value: number): string {
    const i = 4 * this.index(value);
    return `rgb(${this.lut[i]}, ${this.lut[i + 1]}, ${this.lut[i + 2]})`;
  }

  /** Black or white, whichever reads better on the colour of `value` (WCAG relative luminance). */
  textColor(value: number): string {
    const i = 4 * this.index(value);
    return luminance(this.lut[i], this.lut[i + 1], this.lut[i + 2]) > 0.35 ? "#000" : "#fff";
  }
}

export function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

let sharedDiverging: Uint8ClampedArray | null = null;
/** Blue (negative) through white (zero) to red (positive): a comparison's b - a. */
export function diverging(): Uint8ClampedArray {
  sharedDiverging ??= buildLut((t) => interpolateRdBu(1 - t));
  return sharedDiverging;
}

/** [-m, m] around zero, m the largest |value| (1 if all are 0), on the diverging ramp. */
export function divergingScale(peak: number): ColorScale {
  const m = peak > 0 ? peak : 1;
  return new ColorScale(-m, m, diverging());
}

let shared: Uint8ClampedArray | null = null;
export function viridis(): Uint8ClampedArray {
  shared ??= buildLut(interpolateViridis);
  return shared;
}

/** The colour scale for values that start at 0 (attention): [0, max], or [0, 1] if all are 0. */
export function zeroBasedScale(values: ArrayLike<number>): ColorScale {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max && Number.isFinite(values[i])) max = values[i];
  return new ColorScale(0, max > 0 ? max : 1);
}

/** For signed values coloured by size: [0, max |v|]. */
export function magnitudeScale(values: ArrayLike<number>): ColorScale {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > max && Number.isFinite(a)) max = a;
  }
  return new ColorScale(0, max > 0 ? max : 1, viridis(), true);
}

/** The colour scale spanning the finite values given (grid scores can be anywhere). */
export function extentScale(values: ArrayLike<number>): ColorScale {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(lo <= hi)) return new ColorScale(0, 1);
  return lo === hi ? new ColorScale(lo, lo + (Math.abs(lo) || 1)) : new ColorScale(lo, hi);
}
