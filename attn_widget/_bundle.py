"""Where the built front end lives (``npm run build`` writes it; the wheel ships it), for the
widget (anywidget's ``_esm``/``_css``) and for the offline page, which inlines it."""

from __future__ import annotations

import pathlib

STATIC = pathlib.Path(__file__).parent / "static"
JS = STATIC / "widget.js"
CSS = STATIC / "widget.css"
MISSING = "attn_widget's frontend bundle is missing; run `npm ci && npm run build`"
# Shown instead of a crash when the package is used from a checkout whose bundle was not built.
_UNBUILT_ESM = f'export default {{ render({{ el }}) {{ el.textContent = "{MISSING}."; }} }};'


def esm() -> pathlib.Path | str:
    """The bundle for anywidget: its path (anywidget watches it under ANYWIDGET_HMR), or a stand-in."""
    return JS if JS.exists() else _UNBUILT_ESM


def css() -> pathlib.Path | str:
    return CSS if CSS.exists() else ""


def js_bytes() -> bytes:
    """The bundle's bytes, for a page that inlines it; refused when it was never built."""
    if not JS.exists():
        raise RuntimeError(MISSING)
    return JS.read_bytes()


def css_text() -> str:
    return CSS.read_text(encoding="utf-8") if CSS.exists() else ""
