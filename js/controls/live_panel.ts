// A model that is still writing (AttentionWidget.generate): the progress line with its stop
// button, what the model almost wrote at a generated position (the hovered row, else the selected
// query) with a fork button per candidate, and the comparisons forked from here, each rendered
// below by the app (`showFork`). Reads its own traits; hidden for widgets that never generated.
import type { Candidates, GenerationState, WidgetModel } from "../wire/types";

export interface LiveEvents {
  /** Render the forked comparison whose model id is `id` into `el` (the app knows how). */
  showFork(id: string, el: HTMLElement): void;
}

export class LivePanel {
  readonly el: HTMLDivElement;
  private readonly line: HTMLSpanElement;
  private readonly stop: HTMLButtonElement;
  private readonly candidates: HTMLDivElement;
  private readonly forks: HTMLDivElement;
  private readonly shownForks = new Set<string>();
  private hovered = -1;

  constructor(
    private readonly model: WidgetModel,
    private readonly events: LiveEvents,
    signal: AbortSignal,
  ) {
    this.el = document.createElement("div");
    this.el.className = "attn-live";
    const bar = document.createElement("div");
    bar.className = "attn-live-bar";
    this.line = document.createElement("span");
    this.line.dataset.testid = "attn-progress";
    this.line.setAttribute("role", "status");
    this.stop = document.createElement("button");
    this.stop.type = "button";
    this.stop.textContent = "stop";
    this.stop.dataset.testid = "attn-stop";
    bar.append(this.line, this.stop);
    this.candidates = document.createElement("div");
    this.candidates.className = "attn-candidates";
    this.candidates.dataset.testid = "attn-candidates";
    this.forks = document.createElement("div");
    this.forks.className = "attn-forks";
    this.forks.dataset.testid = "attn-forks";
    this.el.append(bar, this.candidates, this.forks);
    this.stop.addEventListener(
      "click",
      () => {
        this.model.set("generating", false);
        this.model.save_changes();
      },
      { signal },
    );
    this.candidates.addEventListener("click", (e) => this.fork(e), { signal });
    const redraw = () => this.update();
    const selected = () => {
      this.hovered = -1; // a selected query's candidates take over from the hovered row's
      this.update();
    };
    model.on("change:query", selected);
    signal.addEventListener("abort", () => model.off("change:query", selected));
    for (const name of ["_generation", "generating", "_candidates", "_candidates_recent", "_forks"] as const) {
      model.on(`change:${name}`, redraw);
      signal.addEventListener("abort", () => model.off(`change:${name}`, redraw));
    }
    this.update();
  }

  /** The heatmap's hovered row: its candidates show, and stay when the pointer leaves (so that a
   * candidate can be clicked) until another row is hovered or a query selected. */
  preview(query: number): void {
    if (query < 0 || query === this.hovered) return;
    this.hovered = query;
    this.showCandidates();
  }

  private update(): void {
    const state = this.model.get("_generation") as GenerationState | undefined;
    const generating = this.model.get("generating") ?? false;
    this.el.hidden = !state?.line;
    this.line.textContent = state?.line ?? "";
    this.stop.hidden = !generating;
    this.showCandidates();
    this.showForks();
  }

  private showCandidates(): void {
    const position = this.hovered >= 0 ? this.hovered : (this.model.get("query") ?? -1);
    const found = candidatesAt([this.model.get("_candidates_recent"), this.model.get("_candidates")], position);
    if (!found) {
      this.candidates.replaceChildren();
      this.candidates.hidden = true;
      return;
    }
    const [c, at] = found;
    const generating = this.model.get("generating") ?? false;
    const head = document.createElement("span");
    head.textContent = `at ${position} it wrote “${c.chosen[at]}” (${c.chosen_probability[at]}); it weighed `;
    const buttons = c.tokens[at].map((token, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "attn-candidate";
      b.dataset.testid = "attn-candidate";
      b.dataset.position = String(position);
      b.dataset.tokenId = String(c.ids[at][i]);
      b.textContent = `${token} ${c.probabilities[at][i]}`; // tokens are text, never HTML
      b.disabled = generating || c.ids[at][i] === c.chosen_ids[at];
      b.title = generating ? "stop or wait for the end to fork" : `fork here: write “${token}” instead and compare`;
      return b;
    });
    const tail = document.createElement("span");
    tail.textContent = ` · entropy ${c.entropy[at]} nats`;
    this.candidates.replaceChildren(head, ...buttons, tail);
    this.candidates.hidden = false;
  }

  private fork(e: MouseEvent): void {
    const b = (e.target as HTMLElement).closest("button.attn-candidate") as HTMLButtonElement | null;
    if (!b || b.disabled) return;
    this.model.send({ type: "fork", position: Number(b.dataset.position), token_id: Number(b.dataset.tokenId) });
  }

  private showForks(): void {
    for (const id of (this.model.get("_forks") as string[] | undefined) ?? []) {
      if (this.shownForks.has(id)) continue;
      this.shownForks.add(id);
      const host = document.createElement("div");
      host.className = "attn-fork";
      host.dataset.testid = "attn-fork";
      this.forks.appendChild(host);
      this.events.showFork(id, host);
    }
  }
}

/** Where a position's candidates are: in the first payload that has it (the newest tokens travel in
 * `_candidates_recent`, all of them now and then in `_candidates`: live_feed.py). */
export function candidatesAt(payloads: (Candidates | undefined)[], position: number): [Candidates, number] | null {
  for (const c of payloads) {
    const at = c?.positions?.indexOf(position) ?? -1;
    if (c && at >= 0) return [c, at];
  }
  return null;
}
