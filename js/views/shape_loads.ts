// When the app loads a new shape (its axes, sizes and heads) from the traits. A kind switch or a
// grown input changes a dozen traits in one message: the shape is loaded once, after all of them
// have landed (a microtask runs after the synchronous change events of one message).
// While the model writes, the input grows every 0.1 s and each growth asks the kernel for the
// heatmap's tiles of the new window. At thousands of tokens those take longer than 0.1 s: each new
// window replaced the one still loading, no window was ever drawn whole, and the rows fell tens of
// seconds behind. So a growth waits until the heatmap has drawn the window it shows (or the kernel
// has nothing left to send, or MAX_WAIT_MS passed): the page then shows the newest rows as often
// as the kernel can draw them.
import type { WidgetModel } from "../wire/types";

export const MAX_WAIT_MS = 2000;

export interface ShapeHost {
  load(): void;
  /** The heatmap shows its window whole, or nothing more is on its way for it. */
  settled(): boolean;
}

export class ShapeLoads {
  private queued = false;
  private waiting = false;
  private loadedKind: unknown = undefined;
  private loadedAt = -Infinity;

  constructor(
    private readonly model: WidgetModel,
    private readonly host: ShapeHost,
    private readonly signal: AbortSignal,
  ) {}

  /** Shape traits changed: load once they have all landed (and, while growing, once drawn). */
  queue(): void {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      if (!this.signal.aborted) this.loadWhenDrawn();
    });
  }

  /** Load now (the first render). */
  load(): void {
    this.waiting = false;
    this.loadedKind = this.model.get("kind");
    this.loadedAt = performance.now();
    this.host.load();
  }

  /** After each draw: a growth waiting for the heatmap loads once it has settled. */
  drawn(): void {
    if (this.waiting && this.host.settled()) this.load();
  }

  private loadWhenDrawn(): void {
    const growing = this.model.get("generating") === true && this.model.get("kind") === this.loadedKind;
    if (growing && !this.host.settled() && performance.now() - this.loadedAt < MAX_WAIT_MS) {
      this.waiting = true;
      return;
    }
    this.load();
  }
}
