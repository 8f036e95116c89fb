// A vertical colour bar with round ticks, drawn into a region of a view's canvas.
import type { Theme } from "./canvas";
import { font } from "./canvas";
import type { ColorScale } from "./colormap";
import { LUT_SIZE } from "./colormap";
import { niceTicks } from "./layout";

export const COLORBAR_WIDTH = 64; // bar + tick labels, in CSS pixels

export function drawColorbar(
  ctx: CanvasRenderingContext2D,
  theme: Theme,
  x: number,
  y: number,
  h: number,
  scale: ColorScale,
  title: string,
): void {
  const barW = 12;
  const steps = Math.max(2, Math.min(LUT_SIZE, Math.round(h)));
  for (let i = 0; i < steps; i++) {
    const t = i / (steps - 1);
    ctx.fillStyle = scale.css(scale.lo + t * (scale.hi - scale.lo));
    const y0 = y + h - ((i + 1) * h) / steps;
    ctx.fillRect(x, Math.floor(y0), barW, Math.ceil(h / steps) + 1);
  }
  ctx.strokeStyle = theme.muted;
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, barW - 1, h - 1);
  ctx.fillStyle = theme.text;
  ctx.font = font(theme, 10);
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const span = scale.hi - scale.lo;
  for (const tick of niceTicks(scale.lo, scale.hi, Math.max(3, Math.min(6, Math.floor(h / 36))))) {
    const t = Math.abs(tick) < span * 1e-9 ? 0 : tick; // -2.5e-17 is zero on a scale centred on it
    const ty = y + h - ((t - scale.lo) / span) * h;
    ctx.fillRect(x + barW, Math.round(ty), 3, 1);
    ctx.fillText(formatTick(t), x + barW + 5, ty);
  }
  if (title) {
    ctx.save();
    ctx.translate(x + barW + 46, y + h / 2);
    ctx.rotate(Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillStyle = theme.muted;
    ctx.fillText(title, 0, 0);
    ctx.restore();
  }
}

export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}
