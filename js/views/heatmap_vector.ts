// The heatmap in an SVG export: one rectangle per visible cell while the window holds few enough
// (an editor can restyle them), else the window as one inline image at the finest level shown.
import { context2d } from "../draw/canvas";
import type { ColorScale } from "../draw/colormap";
import { svgExtras } from "../draw/svg_hooks";
import type { Tile } from "../tiles/tile_store";
import type { Frame, TileRasters } from "./heatmap_paint";

/** An SVG export draws one rectangle per cell up to 256 x 256 visible cells, else one image. */
export const MAX_VECTOR_CELLS = 256 * 256;

/** Whether the export can draw cells as rectangles: every cell-level tile is here and few enough
 * cells are shown. */
export function cellsAsRects(win: Frame["win"], block: number, complete: boolean): boolean {
  return complete && block === 1 && win.rows * win.cols <= MAX_VECTOR_CELLS;
}

/** One rectangle per visible cell, filled with the colour scale's colour, in a named group. */
export function drawCellRects(ctx: CanvasRenderingContext2D, { plot, win }: Frame, tiles: Tile[], scale: ColorScale): void {
  const { row0, rows, col0, cols } = win;
  const cellW = plot.w / cols;
  const cellH = plot.h / rows;
  const group = svgExtras(ctx); // named, so readers and tests find the cells
  group.beginGroup?.("heatmap-cells");
  for (const tile of tiles) {
    const [q0, , k0] = tile.window;
    for (let q = Math.max(row0, q0); q < Math.min(row0 + rows, q0 + tile.rows); q++) {
      for (let k = Math.max(col0, k0); k < Math.min(col0 + cols, k0 + tile.cols); k++) {
        ctx.fillStyle = scale.css(tile.values[(q - q0) * tile.cols + (k - k0)]);
        ctx.fillRect(plot.x + (k - col0) * cellW, plot.y + (q - row0) * cellH, cellW, cellH);
      }
    }
  }
  group.endGroup?.();
}

/** Above MAX_VECTOR_CELLS (or while finer tiles travel): the window as one image, one pixel per
 * block of the finest level `block`, coarser stand-ins (`byLevel`, coarsest first) painted under it. */
export function drawAsOneImage(
  ctx: CanvasRenderingContext2D,
  { plot, win }: Frame,
  byLevel: Tile[][],
  block: number,
  scale: ColorScale,
  rasters: TileRasters,
): void {
  const { row0, rows, col0, cols } = win;
  const b = block;
  const image = document.createElement("canvas");
  image.width = Math.max(1, Math.ceil(cols / b));
  image.height = Math.max(1, Math.ceil(rows / b));
  const px = context2d(image);
  px.imageSmoothingEnabled = false;
  for (const here of byLevel) {
    for (const tile of here) {
      const raster = rasters.of(tile, scale);
      const [q0, , k0] = tile.window;
      px.drawImage(raster, (k0 - col0) / b, (q0 - row0) / b, (tile.cols * tile.block[1]) / b, (tile.rows * tile.block[0]) / b);
    }
  }
  ctx.drawImage(image, plot.x, plot.y, (image.width * b * plot.w) / cols, (image.height * b * plot.h) / rows);
}
