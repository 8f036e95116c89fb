// A stand-in for the Jupyter widget model (the narrowed Backbone model anywidget hands to render):
// get/set/on/off/save_changes/send. With a bridge, saves and sends go to a real Python widget
// (tests/support/fake_kernel.py) and its replies come back as they would from a kernel.
// Built by `npm run build:test` into tests/browser/.build/fake_model.js; harness.html loads it.

type State = Record<string, unknown>;
type Listener = (...args: unknown[]) => void;
/** A message from Python as the bridge hands it over: binary as base64. */
type KernelMessage =
  | { method: "update"; state: State }
  | { method: "custom"; content: unknown; buffers: string[] }
  | { method: "echo_update" | "request_state"; state?: State }; // other traffic the views ignore
type Bridge = (kind: "update" | "custom" | "pull", payload: unknown) => Promise<KernelMessage[]>;

interface MountOptions {
  width?: number;
  offset?: number; // where binary starts inside its buffer: never 0, as in a real kernel message
  bridge?: boolean;
  shareWith?: number; // a second view of the model of view `shareWith`
}

interface View {
  model: FakeModel;
  el: HTMLElement;
  cleanup: unknown;
  controller: AbortController;
  t0: number;
}

interface WidgetModule {
  default: { render(props: { model: FakeModel; el: HTMLElement; signal: AbortSignal }): unknown };
}

declare global {
  interface Window {
    kernel(kind: string, payload: unknown): Promise<KernelMessage[]>; // exposed by the browser tests
    mount(state: State, opts?: MountOptions): Promise<number>;
    __views: View[];
    __inflight?: number;
    __hold?: boolean;
    __held?: unknown[];
  }
}

function toDataView(b64: string, offset: number): DataView {
  const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const buf = new ArrayBuffer(raw.length + offset);
  new Uint8Array(buf, offset).set(raw);
  return new DataView(buf, offset, raw.length); // deliberately not at byteOffset 0
}

function toBase64(b: ArrayBuffer | ArrayBufferView): string {
  const bytes = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Binary may sit inside a payload dict ({what, shape, ..., data: bytes}): decode at any depth. */
function decodeValue(v: unknown, offset: number): unknown {
  if (!v || typeof v !== "object") return v;
  if ("$b64" in v && typeof v.$b64 === "string") return toDataView(v.$b64, offset);
  if (Array.isArray(v)) return v.map((x) => decodeValue(x, offset));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeValue(x, offset)]));
}

export class FakeModel {
  readonly offset: number;
  readonly state: State = {};
  readonly listeners = new Map<string, Set<Listener>>();
  pending: State = {};
  readonly saved: State[] = [];
  readonly sent: unknown[] = [];
  private readonly bridge: Bridge | null;

  constructor(state: State, opts: MountOptions) {
    this.offset = opts.offset ?? 6;
    for (const [k, v] of Object.entries(state)) this.state[k] = decodeValue(v, this.offset);
    // Counts calls Python has not answered yet, so a test can wait for the kernel to catch up
    // before it reads a trait (a click returns before Python has seen its message).
    this.bridge = opts.bridge
      ? (kind, payload) => {
          window.__inflight = (window.__inflight ?? 0) + 1;
          return window.kernel(kind, payload).finally(() => {
            window.__inflight = (window.__inflight ?? 1) - 1;
          });
        }
      : null;
  }

  get(k: string): unknown {
    return this.state[k];
  }

  set(k: string, v: unknown): void {
    const old = this.state[k];
    this.state[k] = v;
    this.pending[k] = v;
    if (old !== v) this.emit(`change:${k}`);
  }

  on(ev: string, cb: Listener): void {
    let set = this.listeners.get(ev);
    if (!set) {
      set = new Set();
      this.listeners.set(ev, set);
    }
    set.add(cb);
  }

  off(ev?: string, cb?: Listener): void {
    if (!ev) this.listeners.clear();
    else if (!cb) this.listeners.delete(ev);
    else this.listeners.get(ev)?.delete(cb);
  }

  listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  emit(ev: string, ...args: unknown[]): void {
    for (const cb of [...(this.listeners.get(ev) ?? [])]) cb(...args);
  }

  save_changes(): void {
    const changes = this.pending;
    this.pending = {};
    this.saved.push(changes);
    this.bridge?.("update", changes).then((m) => this.apply(m));
  }

  send(content: unknown, _callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void {
    // A "tiles" message is recorded and held as its requests, one by one: a kernel answers them
    // one at a time, each with its own reply, and the tests look for the requests themselves.
    const batch = content as { type?: string; requests?: unknown[] };
    const each = batch?.type === "tiles" && Array.isArray(batch.requests) ? batch.requests : [content];
    this.sent.push(...each);
    if (buffers?.length) {
      // binary from the view (figure bytes): base64 across the bridge
      this.bridge?.("custom", { $content: content, $buffers: buffers.map(toBase64) }).then((m) => this.apply(m));
      return;
    }
    if (window.__hold) {
      window.__held = [...(window.__held ?? []), ...each]; // a slow kernel: answered by release()
      return;
    }
    // across the bridge each request goes on its own, so replies stream as they do from a kernel
    for (const one of each) this.bridge?.("custom", one).then((m) => this.apply(m));
  }

  /** Answer the held requests, in the order given ("reverse": the kernel answers the last first;
   * "first": answer only the oldest held request and keep holding the rest). */
  async release(order?: "reverse" | "first"): Promise<void> {
    let held = window.__held ?? [];
    window.__held = [];
    window.__hold = false;
    if (order === "first") {
      window.__held = held.slice(1);
      window.__hold = true;
      held = held.slice(0, 1);
    }
    if (order === "reverse") held.reverse();
    if (!this.bridge) return;
    for (const content of held) this.apply(await this.bridge("custom", content));
  }

  apply(messages: KernelMessage[]): void {
    for (const m of messages) {
      if (m.method === "update") {
        const changed: string[] = [];
        for (const [k, v] of Object.entries(m.state)) {
          const value = decodeValue(v, this.offset);
          if (this.state[k] !== value) {
            this.state[k] = value;
            changed.push(k);
          }
        }
        for (const k of changed) this.emit(`change:${k}`);
      } else if (m.method === "custom") {
        this.emit(
          "msg:custom",
          m.content,
          m.buffers.map((b) => toDataView(b, this.offset)),
        );
      }
    }
  }

  /** Python-side traffic that no browser action caused (w.head = 3 in the kernel). */
  async pull(): Promise<void> {
    if (this.bridge) this.apply(await this.bridge("pull", null));
  }
}

window.__views = [];
window.mount = async (state: State, opts: MountOptions = {}): Promise<number> => {
  const bundle = "/static/widget.js"; // a variable: served by the test, not bundled here
  const { default: widget } = (await import(bundle)) as WidgetModule;
  const el = document.createElement("div");
  el.style.width = `${opts.width ?? 1000}px`;
  document.body.appendChild(el);
  const model = opts.shareWith !== undefined ? window.__views[opts.shareWith].model : new FakeModel(state, opts);
  const controller = new AbortController();
  const t0 = performance.now();
  const cleanup = await widget.render({ model, el, signal: controller.signal });
  window.__views.push({ model, el, cleanup, controller, t0 });
  return window.__views.length - 1;
};
