"""``jupyter nbconvert --to attn_html notebook.ipynb``: one self-contained HTML file in which every
attn_widget output is the live widget, drawn from the notebook's saved widget state by the offline
page's code (``page.py``, js/export/standalone.ts): the bundle inline once, no CDN, opens from
``file://`` with the network off. Everything else renders as nbconvert's HTML exporter renders it.

Registered as the nbconvert exporter ``attn_html`` (``[project.entry-points."nbconvert.exporters"]``).
What each widget's page holds is decided in ``saved_widgets.py``. Unlike ``--to html`` no script
comes from the web: other widgets (which need @jupyter-widgets/html-manager from a CDN) show
their text or picture instead, and LaTeX in markdown stays as its source (MathJax is not inlined).
"""

from __future__ import annotations

import html
import pathlib
from typing import Any

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import default

from .. import _bundle
from .page import bundle_json, script_json
from .saved_widgets import VIEW_MIME, is_attention_widget, saved_models, saved_page

TEMPLATES = pathlib.Path(__file__).parent / "templates"


class AttentionHTMLExporter(HTMLExporter):
    """nbconvert's HTML (lab template) with live, offline attn_widget outputs."""

    export_from_notebook = "HTML with attn_widget offline"

    @default("template_name")
    def _template_name_default(self) -> str:
        return "attn_html"

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [str(TEMPLATES), *super()._default_extra_template_basedirs()]

    def _init_preprocessors(self) -> None:
        super()._init_preprocessors()
        # Last, after nbconvert's own: with --execute, the widgets exist only once the notebook has run.
        self.register_preprocessor(MountAttentionWidgets, enabled=True)


class MountAttentionWidgets(Preprocessor):
    """Each attn_widget output's widget view -> its page's markup (``widget_markup``); the bundle
    and styles go to the template in ``resources["attn_widget"]`` when the notebook has one."""

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        models = saved_models(nb.metadata)
        # No widget manager from a CDN: nbconvert adds one (and the whole state) only for this key.
        nb.metadata.pop("widgets", None)
        mounted = 0
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data") or {}
                view = data.pop(VIEW_MIME, None)
                model = models.get(view.get("model_id", "")) if isinstance(view, dict) else None
                if model is not None and is_attention_widget(model):
                    data["text/html"] = widget_markup(model["state"])
                    mounted += 1
        if mounted:
            resources["attn_widget"] = {"bundle": bundle_json(), "css": _bundle.css_text().replace("</", "<\\/")}
        return nb, resources


def widget_markup(state: dict[str, Any]) -> str:
    """An output's HTML: what the page holds, in words, and its data, which the page's module
    script mounts (tokens are untrusted text: they only ever sit inside escaped JSON)."""
    page = saved_page(state)
    note = f"attn_widget, offline from the notebook's saved state: holds {page.holds}."
    return (
        f'<p class="attn-nb-note">{html.escape(note)}</p>\n'
        f'<script type="application/json" data-attn-widget-page>{script_json(page.data)}</script>'
    )
