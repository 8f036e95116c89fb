"""``w.to_html``: one self-contained HTML file, the same widget with no kernel and no network.

The page holds the widget bundle, its CSS and the data, all inline. The data is the widget's
state (the traits the views read) plus, for each included head, its weights in the dec3 code
(2 bytes a weight) and the colour scale's peak. In the page a small stand-in for the kernel
(js/export/standalone.ts) answers the views' tile requests from those heads with the same protocol
messages as Python, so zoom, pan, hover and head switches behave as in a notebook. A head that
is not included gets an error reply, which the heatmap shows.

Untrusted text (tokens) only ever sits inside JSON in a ``<script type="application/json">``;
``<``, ``>`` and ``&`` are written as JSON escapes, so no token can close the script element.
"""

from __future__ import annotations

import base64
import json
import pathlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import _bundle
from .._checks import is_int
from ..capturing.result import Kind
from ..engine.sources import QuantityMatrices
from ..wire.dec3 import dec3_bytes
from .atomic_file import write_atomically

#: Pages above this are refused unless asked for (a browser opens 50 MB of inline data slowly).
DEFAULT_MAX_BYTES = 50 * 1000 * 1000
PAGE_FORMAT = "attn_widget/page"
# ipywidgets' and anywidget's own traits: the page mounts the bundle itself and needs none of them.
_FRAMEWORK_TRAITS = ("_model_", "_view_", "_esm", "_css", "_dom_classes", "_anywidget", "layout", "tabbable", "tooltip")
PAGE_VERSION = 1
# Traits whose numbers the page holds in its own fields (heads, grids), not twice in the state.
_HELD_ELSEWHERE = ("_notebook_page",)


class PageTooLarge(ValueError):
    """to_html would write more than max_bytes."""


def check_heads(heads: str | Iterable[Sequence[int]], n_layers: int, n_heads: int) -> list[tuple[int, int]]:
    """``"all"`` or (layer, head) pairs -> the list of pairs, or a ValueError naming the bad one."""
    if isinstance(heads, str):
        if heads != "all":
            raise ValueError(f"heads must be 'all' or a list of (layer, head) pairs, got {heads!r}")
        return [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    try:
        pairs = list(heads)
    except TypeError:
        raise ValueError(f"heads must be 'all' or a list of (layer, head) pairs, got {heads!r}") from None
    if not pairs:
        raise ValueError("heads must name at least one (layer, head) pair, got an empty list")
    out: list[tuple[int, int]] = []
    for i, pair in enumerate(pairs):
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(is_int(v) for v in pair)
        if not ok:
            raise ValueError(f"heads[{i}] must be a (layer, head) pair of ints, got {pair!r}")
        layer, head = int(pair[0]), int(pair[1])
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(
                f"heads[{i}] = ({layer}, {head}) does not exist: layer must be in [0, {n_layers - 1}] "
                f"and head in [0, {n_heads - 1}]"
            )
        if (layer, head) not in out:
            out.append((layer, head))
    return out


def _b64(data: bytes) -> dict[str, str]:
    return {"$b64": base64.b64encode(data).decode("ascii")}


def _jsonable(value: Any) -> Any:
    """Trait values with bytes inside (payloads) -> JSON, bytes as {"$b64": ...}."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _b64(bytes(value))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def script_json(data: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no <, > or & characters."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def bundle_json(bundle: bytes | None = None) -> str:
    """The widget bundle as base64 JSON for a ``<script type="application/json">`` (module scripts
    cannot be inlined as they are: the page imports it from a blob: URL)."""
    return script_json(base64.b64encode(_bundle.js_bytes() if bundle is None else bundle).decode("ascii"))


def estimate_bytes(n_heads: int, n_q: int, n_k: int, quantities: int) -> int:
    """What the heads add to the page: 2 bytes a weight, base64 (4/3)."""
    return (2 * n_q * n_k * n_heads * quantities * 4 + 2) // 3


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def build_page(
    state: dict[str, Any],
    kind: Kind,
    heads: list[tuple[int, int]],
    quantities: dict[str, QuantityMatrices],
    grids: dict[str, Any],
    strips: dict[str, Any],
    max_bytes: int,
) -> str:
    """The page's HTML: the widget's ``state`` (its traits) showing ``kind``, the included ``heads``
    of every quantity, every grid colour (``grids``) and saliency strip (``strips``) it offers."""
    _, _, n_q, n_k = kind.shape
    bundle = _bundle.js_bytes()
    css = _bundle.css_text()
    fixed = len(bundle) * 4 // 3 + len(css) + 200 * (n_q + n_k) + 200_000
    estimate = fixed + estimate_bytes(len(heads), n_q, n_k, len(quantities))
    if estimate > max_bytes:
        per_head = estimate_bytes(1, n_q, n_k, len(quantities))
        fit = max(0, (max_bytes - fixed) // per_head)
        size = f"about {_mb(estimate)}, above max_bytes = {_mb(max_bytes)}"
        if fit == 0:
            raise PageTooLarge(
                f"to_html would write {size}: the page's code, styles and tokens alone take about "
                f"{_mb(fixed)}, so not even one head fits. Raise max_bytes"
            )
        raise PageTooLarge(
            f"to_html would write {size}: {len(heads)} heads of {n_q} x {n_k} weights at {_mb(per_head)} each. "
            f"Include fewer heads, e.g. heads=[({state['layer']}, {state['head']})] (at most {fit} fit), or raise max_bytes"
        )

    page = page_data(state, heads_section(kind, heads, quantities), grids, strips)
    total = kind.n_layers * kind.n_heads
    title = f"attn_widget: {len(heads)} of {total} heads, {n_k} tokens"
    if len(heads) == total:
        holds = f"all {total} heads"
    else:
        names = ", ".join(f"L{l}H{h}" for l, h in heads[:12]) + (", …" if len(heads) > 12 else "")
        holds = f"{len(heads)} of {total} heads ({names}); the grid scores every head"
    html = _TEMPLATE.format(
        title=title,
        holds=holds,
        css=css.replace("</", "<\\/"),
        page=script_json(page),
        bundle=bundle_json(bundle),
    )
    if len(html.encode("utf-8")) > max_bytes:
        raise PageTooLarge(
            f"to_html would write {len(html.encode('utf-8')) / 1e6:.1f} MB, above max_bytes = {max_bytes / 1e6:.1f} MB: include fewer heads or raise max_bytes"
        )
    return html


def heads_section(kind: Kind, heads: list[tuple[int, int]], quantities: dict[str, QuantityMatrices]) -> dict[str, Any]:
    """The included ``heads`` of ``kind``, each quantity's weights in the dec3 code (``data``, bytes)
    and each head's colour-scale peak: what the page's stand-in kernel cuts tiles from."""
    return {
        "kind": kind.id,
        "shape": list(kind.shape),
        "included": [list(p) for p in heads],
        "quantities": {name: _quantity(heads, q.matrix, signed=q.signed, version=q.version) for name, q in quantities.items()},
    }


def page_data(
    state: dict[str, Any], heads: dict[str, Any], grids: dict[str, Any], strips: dict[str, Any], missing: str | None = None
) -> dict[str, Any]:
    """What ``mountPage`` reads (js/export/standalone.ts ``PageData``), JSON-ready: the widget's
    ``state`` showing the kind of ``heads`` (a ``heads_section``), with ``missing`` (when given) the
    words a head left out shows after "layer L, head H"."""
    state = {k: v for k, v in state.items() if not k.startswith(_FRAMEWORK_TRAITS) and k not in _HELD_ELSEWHERE}
    state["kinds"] = [k for k in state["kinds"] if k["id"] == heads["kind"]]  # one kind: switching needs the kernel
    state["_attention_data"] = {}  # the page's stand-in kernel cuts tiles from `heads`
    included = [tuple(p) for p in heads["included"]]
    if included and (state["layer"], state["head"]) not in included:
        state["layer"], state["head"] = included[0]
    page = {"format": PAGE_FORMAT, "version": PAGE_VERSION, "state": state, "heads": heads, "grids": grids, "strips": strips}
    if missing is not None:
        page["missing"] = missing
    return _jsonable(page)


def _quantity(
    heads: list[tuple[int, int]], values: Callable[[int, int], np.ndarray], *, signed: bool, version: int
) -> dict[str, Any]:
    arrays = [np.asarray(values(l, h), dtype=np.float32) for l, h in heads]
    peaks = [float(np.abs(a).max()) if a.size else 0.0 for a in arrays]
    return {"signed": signed, "version": version, "peaks": peaks, "data": b"".join(dec3_bytes(a) for a in arrays)}


def check_page_path(path: str | pathlib.Path) -> pathlib.Path:
    """Where ``to_html`` may write: an ``.html`` name in a folder that exists."""
    target = pathlib.Path(path).expanduser()
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path must end in .html, got {str(path)!r}")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {str(target.parent)!r} does not exist (to_html does not create folders)")
    return target


def write_page(path: pathlib.Path, html: str) -> None:
    """Written next to its final name and renamed: never a half-written page."""
    write_atomically(path, html.encode("utf-8"))


# The CSP forbids every network request: the page works from file:// with nothing else.
_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ color-scheme: light dark; }}
body {{ margin: 16px; font: 13px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; background: #fff; color: #1f1f1f; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #1b1b1b; color: #ddd; }} }}
#attn-page-note {{ color: #777; margin: 0 0 8px; }}
</style>
<style>{css}</style>
</head>
<body>
<p id="attn-page-note">attn_widget page, offline: hover, click, zoom and pan as in the notebook. It holds {holds}; other heads and new saliency targets need the kernel.</p>
<div id="attn-page"></div>
<script type="application/json" id="attn-page-data">{page}</script>
<script type="application/json" id="attn-page-bundle">{bundle}</script>
<script type="module">
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const bytes = Uint8Array.from(atob(read("attn-page-bundle")), (c) => c.charCodeAt(0));
const url = URL.createObjectURL(new Blob([bytes], {{ type: "text/javascript" }}));
const bundle = await import(url);
bundle.mountPage(document.getElementById("attn-page"), read("attn-page-data"));
</script>
</body>
</html>
"""
