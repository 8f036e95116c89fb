// Rendering the widget into an element: one AttentionApp per rendered view, torn down by the
// returned cleanup. Works on hosts that pass an AbortSignal (anywidget >= 0.11) and on those that
// do not, and on a page written by w.to_html, where a stand-in answers for the kernel.
import type { RenderProps } from "@anywidget/types";
import { AttentionApp } from "./app";
import type { PageData } from "./export/standalone";
import { OfflineModel } from "./export/standalone";
import type { WidgetModel, WidgetState } from "./wire/types";

export function renderWidget({ model, el, signal }: RenderProps<WidgetState>): () => void {
  const controller = new AbortController();
  signal?.addEventListener("abort", () => controller.abort(), { once: true });
  new AttentionApp(model, el, controller.signal);
  return () => controller.abort();
}

/** Show a saved page in `el` (the page's inline loader calls this). */
export function mountPage(el: HTMLElement, page: PageData): () => void {
  if (page.format !== "attn_widget/page" || page.version !== 1) {
    el.textContent = `attn_widget: this page's data is in an unknown format (${String(page.format)} v${String(page.version)})`;
    return () => undefined;
  }
  const model = new OfflineModel(page) as unknown as WidgetModel;
  return renderWidget({ model, el } as unknown as Parameters<typeof renderWidget>[0]);
}
