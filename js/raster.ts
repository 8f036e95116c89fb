// One head's window -> RGBA pixels, one pixel per cell. When the window has more cells than the
// screen has pixels, each pixel shows the *largest* weight it covers (max-pooling), so a single
// sharp attention peak at N = 4096 still shows instead of being averaged away.
import type { ColorScale } from "./colormap";
import type { CellWindow } from "./layout";

export interface Raster {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Pooled maxima of the window of a row-major nRows x nCols matrix, at most maxPx per side. */
export function poolMax(values: ArrayLike<number>, nCols: number, win: CellWindow, maxPx: number): { width: number; height: number; pooled: Float32Array } {
  const width = Math.max(1, Math.min(win.cols, Math.floor(maxPx)));
  const height = Math.max(1, Math.min(win.rows, Math.floor(maxPx)));
  const pooled = new Float32Array(width * height).fill(-Infinity);
  const colPx = new Int32Array(win.cols);
  for (let c = 0; c < win.cols; c++) colPx[c] = Math.floor((c * width) / win.cols);
  for (let r = 0; r < win.rows; r++) {
    const base = ((r * height) / win.rows | 0) * width;
    const src = (win.row0 + r) * nCols + win.col0;
    for (let c = 0; c < win.cols; c++) {
      const v = values[src + c];
      const p = base + colPx[c];
      if (v > pooled[p]) pooled[p] = v;
    }
  }
  return { width, height, pooled };
}

export function rasterize(values: ArrayLike<number>, nCols: number, win: CellWindow, maxPx: number, scale: ColorScale): Raster {
  const { width, height, pooled } = poolMax(values, nCols, win, maxPx);
  const data = new Uint8ClampedArray(width * height * 4);
  const lut = scale.lut;
  for (let i = 0; i < pooled.length; i++) {
    const j = 4 * scale.index(pooled[i]);
    const o = 4 * i;
    data[o] = lut[j];
    data[o + 1] = lut[j + 1];
    data[o + 2] = lut[j + 2];
    data[o + 3] = 255;
  }
  return { width, height, data };
}
