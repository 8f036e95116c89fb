"""A notebook's saved widget state -> the offline page of each attn_widget in it.

JupyterLab (with "save widget state") and nbclient (``store_widget_state=True``) write every
widget model's synced traits into ``metadata.widgets["application/vnd.jupyter.widget-state+json"]``,
with binary fields base64-encoded in a ``buffers`` list next to the JSON (``path`` says where each
goes). What a page can draw depends on the widget:

- an eager widget's state holds every head of the kind shown (``_attention_data``): the page
  holds them all;
- a lazy widget's state holds its grid, tokens and selection, but no head (its views asked the
  kernel for tiles); ``w.keep_in_notebook(...)`` before saving adds the heads it names
  (``_notebook_page``), else the page shows the grid and says the heads were not saved.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..wire.dec3 import decode_dec3
from .page import page_data

STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
#: ``_anywidget_id`` of our widget's models: the class's module path.
WIDGET_MODULE = "attn_widget."
KEEP_HINT = "run w.keep_in_notebook() (or heads=[(layer, head), ...]) before saving the notebook"
NOT_SAVED = f"is not saved in this notebook: {KEEP_HINT}"


@dataclass(frozen=True)
class SavedPage:
    """One widget's page data (``mountPage``'s argument) and what it holds, in words."""

    data: dict[str, Any]
    holds: str


def saved_models(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """model id -> the saved model (``model_name``, ``state`` with its buffers put back as bytes)."""
    saved = (metadata.get("widgets") or {}).get(STATE_MIME) or {}
    return {model_id: {**model, "state": _with_buffers(model)} for model_id, model in (saved.get("state") or {}).items()}


def is_attention_widget(model: dict[str, Any]) -> bool:
    state = model.get("state") or {}
    return model.get("model_module") == "anywidget" and str(state.get("_anywidget_id", "")).startswith(WIDGET_MODULE)


def _with_buffers(model: dict[str, Any]) -> dict[str, Any]:
    state = dict(model.get("state") or {})
    for buffer in model.get("buffers") or []:
        data = buffer.get("data", "")
        try:
            raw = bytes.fromhex(data) if buffer.get("encoding") == "hex" else base64.b64decode(data)
        except (ValueError, binascii.Error):
            continue
        _put(state, list(buffer.get("path") or []), raw)
    return state


def _put(container: Any, path: list[Any], value: bytes) -> None:
    """Set ``container[path[0]][path[1]]... = value``, copying the dicts and lists on the way (the
    notebook's own objects stay as they were)."""
    if not path:
        return
    key, rest = path[0], path[1:]
    if not rest:
        container[key] = value
        return
    child = container[key] if _has(container, key) else {}
    child = dict(child) if isinstance(child, dict) else list(child) if isinstance(child, list) else {}
    container[key] = child
    _put(child, rest, value)


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container)


def saved_page(state: dict[str, Any]) -> SavedPage:
    """The page of one saved widget (``state`` from ``saved_models``)."""
    kind = state["kind"]
    kept = state.get("_notebook_page") or {}
    eager = state.get("_attention_data") or {}
    total = int(state["n_layers"]) * int(state["n_heads"])
    if kept.get("heads", {}).get("kind") == kind:
        heads, grids, strips = kept["heads"], dict(kept.get("grids") or {}), dict(kept.get("strips") or {})
        included = len(heads["included"])
        holds = f"all {total} heads" if included == total else f"{included} of {total} heads (kept with w.keep_in_notebook)"
    elif eager.get("data") is not None and eager.get("kind") == kind:
        heads, grids, strips = _eager_heads(eager), _saved_grid(state), _saved_strip(state)
        holds = f"all {total} heads"
    else:
        shape = [state["n_layers"], state["n_heads"], state["n_queries"], state["n_tokens"]]
        heads, grids, strips = {"kind": kind, "shape": shape, "included": [], "quantities": {}}, _saved_grid(state), {}
        holds = f"the grid, but none of the {total} heads: this widget sent heads to its kernel on request; {KEEP_HINT}"
    state = dict(state)
    options = state.get("_grid_metric_options") or []
    saved_metrics = {key.split("|")[0] for key in grids}
    state["_grid_metric_options"] = [o for o in options if o.get("id") in saved_metrics] or options
    return SavedPage(page_data(state, heads, grids, strips, missing=NOT_SAVED), holds)


def _eager_heads(payload: dict[str, Any]) -> dict[str, Any]:
    """``_attention_data`` (every head, dec3) -> the page's heads: the same codes, one peak a head."""
    layers, heads, n_q, n_k = (int(v) for v in payload["shape"])
    data = bytes(payload["data"])
    codes = np.frombuffer(data, dtype="<u2").reshape(layers * heads, n_q * n_k)
    peaks = [float(np.abs(decode_dec3(row)).max()) if row.size else 0.0 for row in codes]
    return {
        "kind": payload["kind"],
        "shape": [layers, heads, n_q, n_k],
        "included": [[l, h] for l in range(layers) for h in range(heads)],
        "quantities": {"attention": {"signed": False, "version": 0, "peaks": peaks, "data": data}},
    }


def _saved_grid(state: dict[str, Any]) -> dict[str, Any]:
    """The grid colour on screen when saved (the others were never sent)."""
    payload = state.get("_grid_scores") or {}
    if not payload:
        return {}
    return {f"{payload.get('metric', state.get('grid_metric'))}|{state.get('flow_span') or ''}": payload}


def _saved_strip(state: dict[str, Any]) -> dict[str, Any]:
    """The saliency strip on screen when saved, for the head it was computed for."""
    method, payload = state.get("strip_method") or "attention", state.get("_strip_values") or {}
    if method == "attention" or not payload:
        return {}
    per_head = method == "attention_x_gradient"
    layer, head = (payload.get("layer", state["layer"]), payload.get("head", state["head"])) if per_head else (-1, -1)
    return {f"{method}|{layer}|{head}": {"label": state.get("strip_label", ""), "payload": payload}}
