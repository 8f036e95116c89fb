// The toolbar: which score colours the grid, what a comparison's heatmap shows, and buttons to
// reset the zoom and clear the selection.
import { describeQueries } from "../draw/tooltip";
import type { RunNames } from "../wire/quantities";
import { quantityOptions } from "../wire/quantities";
import type { KindOption, MetricOption } from "../wire/types";

export interface ControlEvents {
  kind(id: string): void;
  metric(id: string): void;
  /** A comparison's heatmap: one of the compare toolbar's quantities (wire/quantities.ts). */
  compareQuantity(id: string): void;
  resetZoom(): void;
  clearSelection(): void;
}

export class Controls {
  readonly el: HTMLDivElement;
  private readonly select: HTMLSelectElement;
  private readonly kindLabel: HTMLLabelElement;
  private readonly kindSelect: HTMLSelectElement;
  private readonly compareLabel: HTMLLabelElement;
  private readonly compareSelect: HTMLSelectElement;
  private readonly reset: HTMLButtonElement;
  private readonly selection: HTMLSpanElement;

  constructor(events: ControlEvents, signal: AbortSignal) {
    this.el = document.createElement("div");
    this.el.className = "attn-toolbar";
    this.select = select("attn-metric");
    this.reset = button("reset zoom", "attn-reset-zoom");
    const clear = button("clear selection", "attn-clear");
    this.selection = document.createElement("span");
    this.selection.className = "attn-selection";
    this.selection.dataset.testid = "attn-selection";
    this.kindSelect = select("attn-kind");
    this.kindLabel = labelled("attention ", this.kindSelect);
    this.kindLabel.hidden = true; // only models with several kinds (encoder-decoder) show it
    this.compareSelect = select("attn-compare-quantity");
    this.compareLabel = labelled("heatmap ", this.compareSelect);
    this.compareLabel.hidden = true; // only comparisons (AttentionWidget.compare) show it
    this.el.append(this.kindLabel, labelled("grid colour ", this.select), this.compareLabel, this.reset, clear, this.selection);
    this.compareSelect.addEventListener("change", () => events.compareQuantity(this.compareSelect.value), { signal });
    this.kindSelect.addEventListener("change", () => events.kind(this.kindSelect.value), { signal });
    this.select.addEventListener("change", () => events.metric(this.select.value), { signal });
    this.reset.addEventListener("click", () => events.resetZoom(), { signal });
    clear.addEventListener("click", () => events.clearSelection(), { signal });
  }

  setMetrics(options: MetricOption[], current: string): void {
    fillSelect(this.select, options, current);
  }

  setKinds(options: KindOption[], current: string): void {
    fillSelect(this.kindSelect, options, current);
    this.kindLabel.hidden = options.length < 2;
  }

  /** A comparison's runs [a, b] and what the heatmap shows; null hides the control. */
  setCompare(runs: RunNames | null, quantity: string): void {
    this.compareLabel.hidden = !runs;
    if (runs) fillSelect(this.compareSelect, quantityOptions("compare", runs), quantity);
  }

  setZoomed(zoomed: boolean): void {
    this.reset.disabled = !zoomed;
  }

  /** A one-line summary of the selection, e.g. "selected: layer 2 · head 5 · query 3 · key 7";
   * -1 is a mean over layers or heads, or nothing selected. */
  setSelection(s: { layer: number; head: number; query: number; key: number; queries: number[] }): void {
    const parts = [s.layer < 0 ? "mean over layers" : `layer ${s.layer}`, s.head < 0 ? "mean over heads" : `head ${s.head}`];
    if (s.queries.length > 0) parts.push(describeQueries(s.queries));
    else if (s.query >= 0) parts.push(`query ${s.query}`);
    if (s.key >= 0) parts.push(`key ${s.key}`);
    this.selection.textContent = `selected: ${parts.join(" · ")}`;
  }
}

/** Replace a select's options only when they changed (keeps focus and scroll), then select one. */
export function fillSelect(select: HTMLSelectElement, options: (KindOption | MetricOption)[], current: string): void {
  const ids = options.map((o) => o.id).join("\n");
  if (select.dataset.ids !== ids) {
    select.replaceChildren(
      ...options.map((o) => {
        const opt = document.createElement("option");
        opt.value = o.id;
        opt.textContent = o.label; // labels are text, never HTML
        if ("description" in o) opt.title = o.description;
        return opt;
      }),
    );
    select.dataset.ids = ids;
  }
  select.value = current;
}

export function select(testid: string): HTMLSelectElement {
  const s = document.createElement("select");
  s.dataset.testid = testid;
  return s;
}

/** A control with its label text in front, the label wrapping it (clicking the text focuses it). */
export function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const label = document.createElement("label");
  label.textContent = text;
  label.appendChild(control);
  return label;
}

function button(text: string, testid: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.testid = testid;
  return b;
}
