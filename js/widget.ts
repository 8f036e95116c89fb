// The anywidget entry: one AttentionApp per rendered view, torn down by the returned cleanup.
// Works on hosts that pass an AbortSignal (anywidget >= 0.11) and on those that do not.
import type { RenderProps } from "@anywidget/types";
import { AttentionApp } from "./app";
import type { WidgetState } from "./types";

export function renderWidget({ model, el, signal }: RenderProps<WidgetState>): () => void {
  const controller = new AbortController();
  signal?.addEventListener("abort", () => controller.abort(), { once: true });
  new AttentionApp(model, el, controller.signal);
  return () => controller.abort();
}

// Named renderWidget, not render: anywidget warns about a named `render` export.
export default { render: renderWidget };

// w.to_html pages load this bundle and mount the widget on their saved data (standalone.ts).
export { mountPage } from "./standalone";
