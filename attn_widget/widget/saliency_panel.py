"""The saliency side of a widget made with ``from_model(..., saliency=True)``: the target explained
(recomputed when the user changes it), the strip's per-token vector for the saliency methods, and
what the offline page needs of them. Widgets that explain nothing get ``NoSaliency``, which offers
nothing and refuses ``w.saliency`` with where to get it: the widget never asks which one it has.
"""

from __future__ import annotations

from typing import Any

from ..attribution.methods import Saliency
from ..attribution.saliency_cache import SALIENCY_METRICS, STRIP_METHODS, STRIP_SHORT, STRIP_SIGNED
from ..engine.sources import SALIENCY, Sources
from ..wire.payloads import strip_payload
from .grid_feed import GridFeed
from .state import WidgetState
from .status import Status


class NoSaliency:
    """A widget that explains no prediction: the strip shows attention rows only."""

    @property
    def current(self) -> Saliency:
        raise AttributeError("this widget shows no saliency: create it with from_model(..., saliency=True)")

    def send_strip(self) -> bool:
        return True

    def page_strips(self, heads: list[tuple[int, int]]) -> dict[str, Any]:
        return {}


class SaliencyPanel(NoSaliency):
    def __init__(self, widget: WidgetState, sources: Sources, grid: GridFeed, status: Status, target: Any, position: Any) -> None:
        """The first computation (inside the widget's ``__init__`` and its ``hold_sync``)."""
        self._widget = widget
        self._sources = sources
        self._cache = sources.saliency_cache()
        self._grid = grid
        self._status = status
        self._callable_target = target if callable(target) else None  # e.g. a class logit, without an LM head
        widget.set_trait("saliency_available", True)
        widget.set_trait("_strip_methods", self._methods(widget.kind))
        if target is not None and not callable(target):
            widget.target_token = str(target)
        if position is not None:
            widget.target_position = position
        self._cache.compute(self._target(), self._position())
        widget.set_trait("target_label", self._cache.current.target.description)
        widget.observe(self._target_changed, names=["target_position", "target_token"])
        widget.observe(self._strip_method_changed, names=["strip_method"])
        widget.observe(self._head_changed, names=["layer", "head"])
        widget.observe(self._kind_changed, names=["kind"])

    def _methods(self, kind: str) -> list[dict[str, str]]:
        """The strip's methods on ``kind``: the saliency methods only on the kind they explain
        (a vision tower's positions are not the prompt's tokens)."""
        ids = STRIP_METHODS if kind == self._cache.kind else ["attention"]
        return [
            {"id": k, "label": STRIP_METHODS[k], "short": STRIP_SHORT[k]}
            | ({"signed_short": STRIP_SIGNED[k]} if k in STRIP_SIGNED else {})
            for k in ids
        ]

    def _kind_changed(self, change: dict[str, Any]) -> None:
        w = self._widget
        if w.strip_method not in [m["id"] for m in self._methods(w.kind)]:
            w.strip_method = "attention"
        w.set_trait("_strip_methods", self._methods(w.kind))

    @property
    def current(self) -> Saliency:
        return self._cache.current

    def _target(self) -> Any:
        return self._widget.target_token.strip() or self._callable_target

    def _position(self) -> int | None:
        return None if self._widget.target_position < 0 else self._widget.target_position

    def _target_changed(self, change: dict[str, Any]) -> None:
        w = self._widget
        if not w._ready or self._status.reverting:
            return
        what = w.target_token.strip() or ("the callable target" if self._callable_target else "the top prediction")
        refusals = (ValueError, TypeError)  # a word that is not one token, a position out of range
        with self._status.computing(
            f"saliency for {what!r}", refusals=refusals, refused="could not explain that target"
        ) as failed:
            self._cache.compute(self._target(), self._position())
        if failed:
            self._status.put_back(change["name"], change["old"])  # keep showing the last target that worked
            return
        self._sources.new_version()  # tiles of the old target are dropped
        with w.hold_sync():
            w.set_trait("_saliency_version", self._sources.version)
            w.set_trait("target_label", self._cache.current.target.description)
            if w.grid_metric in SALIENCY_METRICS:
                self._grid.send()
            if not self.send_strip():
                return
            w.set_trait("status", "")

    def _strip_method_changed(self, change: dict[str, Any]) -> None:
        if self._widget._ready and not self._status.reverting and not self.send_strip():
            self._status.put_back("strip_method", change["old"])  # the strip keeps what it showed

    def _head_changed(self, change: dict[str, Any]) -> None:
        if self._widget._ready and self._widget.strip_method == "attention_x_gradient":  # a row of the selected head
            self.send_strip()

    def send_strip(self) -> bool:
        """The strip's per-token vector for a saliency method (the attention row is drawn by the
        browser from the shown head). False when it could not be computed (the status says why)."""
        w = self._widget
        if w.strip_method == "attention":
            return True
        slow = w.strip_method in ("gradient_x_input", "integrated_gradients")
        with self._status.computing(STRIP_METHODS[w.strip_method], announce=slow) as failed:
            vector = self._cache.strip(w.strip_method, w.layer, w.head)
        if failed:
            return False
        with w.hold_sync():
            fields = {"layer": w.layer, "head": w.head, "version": self._sources.version}
            w.set_trait("_strip_values", strip_payload(w.strip_method, vector.values, **fields))
            w.set_trait("strip_label", vector.label)
            w.set_trait("status", "")
        return True

    def page_strips(self, heads: list[tuple[int, int]]) -> dict[str, Any]:
        """Each saliency method's strip for an offline page (attention x gradient per included head)."""
        out = {}
        for method in STRIP_METHODS:
            if method == "attention":
                continue
            for layer, head in heads if method == "attention_x_gradient" else [(-1, -1)]:
                vector = self._cache.strip(method, max(layer, 0), max(head, 0))
                fields = {"layer": layer, "head": head, "version": self._sources.version}
                out[f"{method}|{layer}|{head}"] = {
                    "label": vector.label,
                    "payload": strip_payload(method, vector.values, **fields),
                }
        return out


def saliency_panel(
    widget: WidgetState, sources: Sources, grid: GridFeed, status: Status, target: Any, position: Any
) -> NoSaliency:
    """The saliency side a widget of ``sources.mode`` has."""
    if sources.mode == SALIENCY:
        return SaliencyPanel(widget, sources, grid, status, target, position)
    return NoSaliency()
