// Block values -> RGBA pixels, one pixel per block, through the colour scale's table. The kernel
// (or lod.poolWindow, for heads held in the page) has already pooled each block to its largest
// weight, so a single sharp peak at N = 32,768 still shows instead of being averaged away.
import type { ColorScale } from "./colormap";

/** RGBA bytes for a rows x cols tile of values (row-major). */
export function rasterizeTile(values: ArrayLike<number>, rows: number, cols: number, scale: ColorScale): Uint8ClampedArray {
  const data = new Uint8ClampedArray(rows * cols * 4);
  const lut = scale.lut;
  for (let i = 0; i < rows * cols; i++) {
    const j = 4 * scale.index(values[i]);
    const o = 4 * i;
    data[o] = lut[j];
    data[o + 1] = lut[j + 1];
    data[o + 2] = lut[j + 2];
    data[o + 3] = 255;
  }
  return data;
}
