// The toolbar's export control: a button that opens a small menu (which panel, which format)
// whose "download" button saves the figure in the browser. Plain DOM, listeners on the signal.
import type { Format, Panel } from "../wire/protocol";
import { labelled, select } from "./controls";

export interface ExportChoice {
  panel: Panel;
  format: Format;
  scale: number;
}

const FORMATS: { id: string; label: string; choice: Omit<ExportChoice, "panel"> }[] = [
  { id: "png1", label: "PNG 1x", choice: { format: "png", scale: 1 } },
  { id: "png2", label: "PNG 2x", choice: { format: "png", scale: 2 } },
  { id: "png4", label: "PNG 4x", choice: { format: "png", scale: 4 } },
  { id: "svg", label: "SVG (vector)", choice: { format: "svg", scale: 1 } },
];

export class ExportMenu {
  readonly el: HTMLSpanElement;
  private readonly menu: HTMLSpanElement;

  /** `panels`: what can be exported now (read each time the menu opens). */
  constructor(onDownload: (choice: ExportChoice) => void, panels: () => Panel[], signal: AbortSignal) {
    this.el = document.createElement("span");
    this.el.className = "attn-export";
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "export ▾";
    open.dataset.testid = "attn-export";
    open.title = "save the figure as PNG or SVG";
    this.menu = document.createElement("span");
    this.menu.className = "attn-export-menu";
    this.menu.hidden = true;
    const panel = select("attn-export-panel");
    const fill = () => {
      const chosen = panel.value;
      panel.replaceChildren(...panels().map((p) => new Option(p === "all" ? "whole widget" : p, p)));
      if (panels().includes(chosen as Panel)) panel.value = chosen;
    }; // filled when the menu opens: what can be exported depends on what the widget holds then
    const format = select("attn-export-format");
    for (const f of FORMATS) format.add(new Option(f.label, f.id));
    format.value = "png2";
    const go = document.createElement("button");
    go.type = "button";
    go.textContent = "download";
    go.dataset.testid = "attn-export-download";
    this.menu.append(labelled("panel ", panel), labelled(" format ", format), go);
    this.el.append(open, this.menu);
    open.addEventListener(
      "click",
      () => {
        fill();
        this.menu.hidden = !this.menu.hidden;
      },
      { signal },
    );
    go.addEventListener(
      "click",
      () => {
        const f = FORMATS.find((x) => x.id === format.value) ?? FORMATS[1];
        onDownload({ panel: panel.value as Panel, ...f.choice });
        this.menu.hidden = true;
      },
      { signal },
    );
  }
}
