// Why does the selected head attend to the selected cell? The "explain" button asks the kernel
// (`{type: "explain"}`, answered by widget/explain_reply.py) for the exact decomposition of the
// cell's score over the residual stream's parts and for what the head writes, and shows them: the
// score, the largest (query component x key component) terms as bars, each side's shares, the
// tokens the head promotes and suppresses. Every number is the text Python printed. A component
// that is a head is a button: clicking it selects that head (the panel then explains it).
import type { WidgetModel } from "../wire/types";

interface Component {
  name: string;
  value: number;
  text: string;
  head: [number, number] | null;
}

interface Pair {
  query: Component;
  key: Component;
  label: string;
  value: number;
  text: string;
}

interface Written {
  token: string;
  text: string;
}

export interface ExplainMessage {
  layer: number;
  head: number;
  query: number;
  key: number;
  query_token: string;
  key_token: string;
  title: string;
  score: string;
  note: string;
  pairs: Pair[];
  by_query: Component[];
  by_key: Component[];
  promoted: Written[];
  suppressed: Written[];
  writes_error: string;
}

interface ExplainReply {
  type: "explain";
  id: string | null;
  ok: boolean;
  explanation?: ExplainMessage;
  error?: string;
}

const CELL = ["layer", "head", "query", "key"] as const;

export class ExplainPanel {
  readonly el: HTMLDivElement;
  private readonly button: HTMLButtonElement;
  private readonly body: HTMLDivElement;
  private open = false;
  private asked = 0;
  private waiting: string | null = null;
  private queued = false;

  constructor(
    private readonly model: WidgetModel,
    private readonly selectHead: (layer: number, head: number) => void,
    private readonly signal: AbortSignal,
  ) {
    this.el = element("div", "attn-explain");
    this.button = element("button", "attn-explain-button");
    this.button.type = "button";
    this.button.textContent = "explain";
    this.button.dataset.testid = "attn-explain";
    this.button.setAttribute("aria-expanded", "false");
    this.body = element("div", "attn-explain-panel");
    this.body.dataset.testid = "attn-explain-panel";
    this.body.hidden = true;
    this.el.append(this.button, this.body);
    this.button.addEventListener("click", () => this.toggle(), { signal });
    this.body.addEventListener("click", (e) => this.clickComponent(e), { signal });
    const onMessage = (msg: unknown) => this.receive(msg);
    model.on("msg:custom", onMessage);
    const changed = () => this.selectionChanged();
    for (const name of CELL) model.on(`change:${name}`, changed);
    signal.addEventListener("abort", () => {
      model.off("msg:custom", onMessage);
      for (const name of CELL) model.off(`change:${name}`, changed);
    });
    this.selectionChanged();
  }

  private cell(): [number, number, number, number] | null {
    const values = CELL.map((name) => Number(this.model.get(name) ?? -1)) as [number, number, number, number];
    return values.every((v) => v >= 0) ? values : null;
  }

  private toggle(): void {
    this.open = !this.open;
    this.button.setAttribute("aria-expanded", String(this.open));
    this.body.hidden = !this.open;
    if (this.open) this.ask();
  }

  /** A new cell or head: the button follows; an open panel explains the new one (once per message). */
  private selectionChanged(): void {
    const cell = this.cell();
    this.button.disabled = cell === null;
    this.button.title = cell ? "why this head gives this cell its score, and what it writes" : "select a cell of one head first";
    if (!this.open || this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      if (!this.signal.aborted && this.open) this.ask();
    });
  }

  private ask(): void {
    const cell = this.cell();
    if (!cell) {
      this.waiting = null;
      this.status("select a cell of one head to explain its score", "idle");
      return;
    }
    const [layer, head, query, key] = cell;
    this.waiting = `explain-${++this.asked}`;
    this.status(`explaining L${layer}H${head} at (${query}, ${key})…`, "loading");
    this.model.send({ type: "explain", id: this.waiting, layer, head, query, key });
  }

  private receive(msg: unknown): void {
    const reply = msg as ExplainReply;
    if (reply?.type !== "explain" || reply.id === null || reply.id !== this.waiting) return;
    this.waiting = null;
    if (!reply.ok || !reply.explanation) {
      this.status(reply.error ?? "the kernel could not explain this cell", "error");
      return;
    }
    this.show(reply.explanation);
  }

  private status(text: string, state: string): void {
    const line = element("div", "attn-explain-status");
    line.textContent = text;
    this.body.replaceChildren(line);
    this.body.dataset.state = state;
  }

  private show(e: ExplainMessage): void {
    const title = element("div", "attn-explain-title");
    const score = element("span", "attn-explain-score");
    score.dataset.testid = "attn-explain-score";
    score.textContent = e.score;
    const note = element("span", "attn-explain-note");
    note.textContent = ` (${e.note})`;
    title.append(`${e.title}: score `, score, note);
    const largest = Math.max(1e-12, ...e.pairs.map((p) => Math.abs(p.value)));
    const pairs = element("div", "attn-explain-pairs");
    pairs.append(heading("largest terms: query component × key component"));
    for (const p of e.pairs) {
      const label = element("span", "attn-explain-label");
      label.append(component(p.query), ` at '${e.query_token}' x `, component(p.key), ` of '${e.key_token}'`);
      pairs.append(row("attn-explain-pair", label, p.value, p.text, largest));
    }
    const shares = element("div", "attn-explain-shares");
    shares.append(side("query side", e.by_query, "attn-explain-by-query"), side("key side", e.by_key, "attn-explain-by-key"));
    this.body.replaceChildren(title, pairs, shares, writes(e));
    this.body.dataset.state = "ready";
    this.body.dataset.cell = `${e.layer},${e.head},${e.query},${e.key}`;
  }

  private clickComponent(e: MouseEvent): void {
    const b = (e.target as HTMLElement).closest("button.attn-explain-component") as HTMLButtonElement | null;
    if (!b) return;
    this.selectHead(Number(b.dataset.layer), Number(b.dataset.head));
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  el.className = className;
  return el;
}

function heading(text: string): HTMLDivElement {
  const h = element("div", "attn-explain-heading");
  h.textContent = text;
  return h;
}

/** A component's name; a head's is a button that selects it. */
function component(c: Component): HTMLElement {
  if (!c.head) {
    const s = element("span", "attn-explain-name");
    s.textContent = c.name;
    return s;
  }
  const b = element("button", "attn-explain-component");
  b.type = "button";
  b.dataset.testid = "attn-explain-component";
  b.dataset.layer = String(c.head[0]);
  b.dataset.head = String(c.head[1]);
  b.textContent = c.name;
  b.title = `select layer ${c.head[0]} · head ${c.head[1]}`;
  return b;
}

/** A labelled bar: its length is |value| against the largest shown, its colour the sign. */
function row(testid: string, label: HTMLElement, value: number, text: string, largest: number): HTMLDivElement {
  const r = element("div", "attn-explain-row");
  r.dataset.testid = testid;
  const track = element("span", "attn-explain-track");
  const bar = element("span", value < 0 ? "attn-explain-bar attn-explain-negative" : "attn-explain-bar");
  bar.style.width = `${Math.min(100, (100 * Math.abs(value)) / largest).toFixed(1)}%`;
  track.append(bar);
  const number = element("span", "attn-explain-value");
  number.dataset.testid = "attn-explain-value";
  number.textContent = text;
  r.append(label, track, number);
  return r;
}

function side(title: string, shares: Component[], testid: string): HTMLDivElement {
  const column = element("div", "attn-explain-side");
  column.dataset.testid = testid;
  column.append(heading(title));
  const largest = Math.max(1e-12, ...shares.map((c) => Math.abs(c.value)));
  for (const c of shares) column.append(row("attn-explain-share", component(c), c.value, c.text, largest));
  return column;
}

function writes(e: ExplainMessage): HTMLDivElement {
  const w = element("div", "attn-explain-writes");
  w.dataset.testid = "attn-explain-writes";
  if (e.writes_error) {
    w.textContent = `what it writes: ${e.writes_error}`;
    return w;
  }
  const list = (title: string, tokens: Written[], testid: string) => {
    const line = element("div", "attn-explain-tokens");
    line.dataset.testid = testid;
    line.append(`${title}: `);
    for (const t of tokens) {
      const chip = element("span", "attn-explain-token");
      chip.textContent = `${t.token} ${t.text}`; // tokens are text, never HTML
      line.append(chip);
    }
    return line;
  };
  w.append(
    heading(`what L${e.layer}H${e.head} writes at '${e.query_token}' (direct logit attribution)`),
    list("promotes", e.promoted, "attn-explain-promoted"),
    list("suppresses", e.suppressed, "attn-explain-suppressed"),
  );
  return w;
}
