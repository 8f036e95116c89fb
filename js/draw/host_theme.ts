// Light or dark, for the colours a host does not hand over as CSS variables (styles.css takes
// --jp-* and --vscode-* first). The order follows what each host documents: VS Code marks its
// notebook webview's body with vscode-dark / vscode-light / vscode-high-contrast; marimo and other
// pages declare `color-scheme` on their root; a page that declares nothing leaves it to the
// reader's prefers-color-scheme.

export type Scheme = "light" | "dark";

const PREFERS_DARK = "(prefers-color-scheme: dark)";

/** The scheme the host shows around `el`. */
export function hostScheme(el: Element, prefersDark: boolean): Scheme {
  const body = el.ownerDocument.body?.classList;
  if (body?.contains("vscode-high-contrast-light") || body?.contains("vscode-light")) return "light";
  if (body?.contains("vscode-dark") || body?.contains("vscode-high-contrast")) return "dark";
  const declared = getComputedStyle(el)
    .colorScheme.trim()
    .split(/\s+/)
    .filter((w) => w !== "only");
  if (declared.length === 1 && (declared[0] === "light" || declared[0] === "dark")) return declared[0];
  return prefersDark ? "dark" : "light"; // "normal", or "light dark": the reader's system decides
}

/** Keep `root.dataset.scheme` equal to the host's scheme while `signal` lives; `onChange` runs when
 * it flips (the canvases read their colours once per draw). */
export function followHostScheme(root: HTMLElement, onChange: () => void, signal: AbortSignal): void {
  const media = globalThis.matchMedia?.(PREFERS_DARK);
  const update = () => {
    const scheme = hostScheme(root.parentElement ?? root, media?.matches ?? false);
    if (root.dataset.scheme === scheme) return;
    const first = root.dataset.scheme === undefined;
    root.dataset.scheme = scheme;
    if (!first) onChange();
  };
  update();
  media?.addEventListener("change", update, { signal });
  // Hosts switch themes by changing classes or attributes on <html> or <body>.
  const observer = new MutationObserver(update);
  const doc = root.ownerDocument;
  for (const target of [doc.documentElement, doc.body]) {
    if (target)
      observer.observe(target, { attributes: true, attributeFilter: ["class", "style", "data-theme", "data-jp-theme-light"] });
  }
  signal.addEventListener("abort", () => observer.disconnect(), { once: true });
}
