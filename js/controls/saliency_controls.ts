// The saliency toolbar (widgets built with saliency=True): what the heatmap and the strip show,
// the target word, the span the grid's saliency-flow metric reads from, and a busy line while
// Python recomputes. Inputs are plain DOM; every listener is tied to the view's AbortSignal.
import { quantityOptions } from "../wire/quantities";
import type { KindOption, Span } from "../wire/types";
import { fillSelect as fill, labelled, select } from "./controls";

export interface SaliencyControlEvents {
  quantity(id: string): void;
  stripMethod(id: string): void;
  targetToken(text: string): void;
  flowSpan(name: string): void;
}

export class SaliencyControls {
  readonly el: HTMLDivElement;
  private readonly quantity: HTMLSelectElement;
  private readonly method: HTMLSelectElement;
  private readonly target: HTMLInputElement;
  private readonly targetLabel: HTMLSpanElement;
  private readonly spanLabel: HTMLLabelElement;
  private readonly span: HTMLSelectElement;
  private readonly status: HTMLSpanElement;

  constructor(events: SaliencyControlEvents, signal: AbortSignal) {
    this.el = document.createElement("div");
    this.el.className = "attn-toolbar attn-saliency-bar";
    this.el.hidden = true;
    this.quantity = select("attn-quantity");
    this.method = select("attn-strip-method");
    this.target = document.createElement("input");
    this.target.type = "text";
    this.target.size = 12;
    this.target.placeholder = "top prediction";
    this.target.dataset.testid = "attn-target";
    this.target.title = "the word whose prediction is explained; Enter to apply, empty = the model's top prediction";
    this.targetLabel = document.createElement("span");
    this.targetLabel.className = "attn-selection";
    this.targetLabel.dataset.testid = "attn-target-label";
    this.span = select("attn-flow-span");
    this.spanLabel = labelled("flow from ", this.span);
    this.status = document.createElement("span");
    this.status.className = "attn-status";
    this.status.dataset.testid = "attn-status";
    this.status.setAttribute("role", "status");
    this.el.append(
      labelled("heatmap ", this.quantity),
      labelled("strip ", this.method),
      labelled("target ", this.target),
      this.targetLabel,
      this.spanLabel,
      this.status,
    );
    const opts = { signal };
    this.quantity.addEventListener("change", () => events.quantity(this.quantity.value), opts);
    this.method.addEventListener("change", () => events.stripMethod(this.method.value), opts);
    this.span.addEventListener("change", () => events.flowSpan(this.span.value), opts);
    this.target.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Enter") events.targetToken(this.target.value.trim());
      },
      opts,
    );
    this.target.addEventListener("change", () => events.targetToken(this.target.value.trim()), opts);
  }

  update(state: {
    available: boolean;
    quantity: string;
    methods: KindOption[];
    method: string;
    targetToken: string;
    targetLabel: string;
    spans: Span[];
    flowSpan: string;
    busy: boolean;
    status: string;
  }): void {
    // Without saliency only the status line shows, and only when it says something (a family
    // captured whole says it has no long-input path).
    for (const child of Array.from(this.el.children)) if (child !== this.status) (child as HTMLElement).hidden = !state.available;
    this.el.hidden = !state.available && !state.status;
    if (!state.available) {
      this.status.textContent = state.status;
      return;
    }
    // attention x gradient belongs to the kind the saliency explains, where the strip offers it too
    const explained = state.methods.some((m) => m.id === "attention_x_gradient");
    const options = quantityOptions("saliency").filter((o) => explained || o.id !== "attention_x_gradient");
    fill(this.quantity, options, state.quantity);
    fill(this.method, state.methods, state.method);
    if (document.activeElement !== this.target) this.target.value = state.targetToken;
    this.targetLabel.textContent = state.targetLabel ? `explaining ${state.targetLabel} · click a query label to move it` : "";
    fill(
      this.span,
      [{ id: "", label: "all tokens" }, ...state.spans.map((s) => ({ id: s.name, label: s.name }))],
      state.flowSpan,
    );
    this.spanLabel.hidden = state.spans.length === 0;
    this.status.textContent = state.busy ? `⏳ ${state.status || "computing…"}` : state.status;
    this.status.classList.toggle("attn-busy", state.busy);
    this.el.dataset.busy = String(state.busy);
  }
}
