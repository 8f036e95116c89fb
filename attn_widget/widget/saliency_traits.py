"""The saliency half of the widget's state (widgets made with ``from_model(..., saliency=True)``):
the target explained, what the heatmap and strip show, the named spans, and the busy state while
Python recomputes. A mixin of ``AttentionWidget``, which provides ``_capture``, ``_saliency``,
``_engine`` (the tile engine), ``_send_grid()`` and ``_check_index()``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import traitlets

from ..attribution.saliency_cache import SALIENCY_METRICS, STRIP_METHODS, STRIP_SHORT
from ..wire.dec3 import dec3_bytes
from ..wire.protocol import COMPARE_QUANTITIES


class SaliencyTraits(traitlets.HasTraits):
    # Provided by AttentionWidget.
    _saliency: Any
    _capture: Any
    _engine: Any
    _ready: bool

    # Saliency (only with from_model(..., saliency=True)): what is explained, how it is shown.
    saliency_available = traitlets.Bool(
        False,
        read_only=True,
        help="bool, read-only: the widget explains a prediction (from_model(..., saliency=True)); default False",
    ).tag(sync=True)
    _strip_methods = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    strip_method = traitlets.Unicode(
        "attention",
        help="str: what the strip shows ('attention', 'attention_x_gradient', 'gradient_x_input', 'integrated_gradients', 'rollout'); default 'attention'",
    ).tag(sync=True)
    # A payload (protocol.py): what="strip", method, layer, head, version, shape [N], data (dec3).
    _strip_values = traitlets.Dict(read_only=True).tag(sync=True)
    strip_label = traitlets.Unicode(
        read_only=True,
        help="str, read-only: the strip's caption (method, target, and for integrated gradients whether it converged); default ''",
    ).tag(sync=True)
    heatmap_quantity = traitlets.Unicode(
        "attention",
        help="str: what the heatmap shows: 'attention' or 'attention_x_gradient'; for a comparison 'difference' (b - a), 'a' or 'b'; default 'attention' ('difference' for a comparison)",
    ).tag(sync=True)
    _saliency_version = traitlets.Int(0, read_only=True).tag(sync=True)  # +1 per recomputation
    target_position = traitlets.Int(-1, help="int: explain the prediction after this token; -1 = the last; default -1").tag(
        sync=True
    )
    target_token = traitlets.Unicode(
        "", help="str: the word whose prediction is explained; '' = the model's top prediction; default ''"
    ).tag(sync=True)
    target_label = traitlets.Unicode(read_only=True, help="str, read-only: what is explained, in words; default ''").tag(
        sync=True
    )
    busy = traitlets.Bool(
        False, read_only=True, help="bool, read-only: True while Python recomputes (the toolbar says what); default False"
    ).tag(sync=True)
    status = traitlets.Unicode(
        read_only=True, help="str, read-only: the status line (what is computing, or why something failed); default ''"
    ).tag(sync=True)
    spans = traitlets.List(
        help="list[dict]: named token ranges {name, start, end} (end exclusive; (name, start, end) tuples accepted), drawn as brackets; default []"
    ).tag(sync=True)
    flow_span = traitlets.Unicode(
        "", help="str: the span whose keys the saliency-flow metric sums over; '' = all tokens; default ''"
    ).tag(sync=True)

    _reverting = False  # True while a refused target is put back (its observer must not rerun)
    _callable_target: Any = None  # from_model(..., target=callable): used while target_token is empty

    def _start_saliency(self, target: Any, position: Any) -> None:
        """First computation, from __init__ (inside its hold_sync)."""
        self.set_trait("saliency_available", True)
        self.set_trait("_strip_methods", [{"id": k, "label": v, "short": STRIP_SHORT[k]} for k, v in STRIP_METHODS.items()])
        if callable(target):  # e.g. a class logit for a model without a language-model head
            self._callable_target = target
        elif target is not None:
            self.target_token = str(target)
        if position is not None:
            self.target_position = position
        self._saliency.compute(self._target_arg(), self._position_arg())
        self.set_trait("target_label", self._saliency.current.target.description)

    @traitlets.validate("spans")
    def _valid_spans(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for i, span in enumerate(proposal["value"]):
            if isinstance(span, dict):
                name, start, end = span.get("name"), span.get("start"), span.get("end")
            elif isinstance(span, (tuple, list)) and len(span) == 3:
                name, start, end = span
            else:
                raise traitlets.TraitError(f"spans[{i}] must be (name, start, end) or a dict with those keys, got {span!r}")
            ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end))
            if not isinstance(name, str) or not ints or not 0 <= start < end <= self.n_tokens:
                raise traitlets.TraitError(
                    f"spans[{i}] must be (name: str, start, end) with 0 <= start < end <= {self.n_tokens} "
                    f"(end exclusive), got {span!r}"
                )
            out.append({"name": name, "start": int(start), "end": int(end)})
        return out

    def _one_of(self, name: str, value: str, with_saliency: list[str]) -> str:
        """``value`` if it is a choice for ``name`` (only "attention" without saliency)."""
        allowed = with_saliency if self._saliency is not None else ["attention"]
        if value not in allowed:
            raise traitlets.TraitError(f"{name} must be one of {allowed}, got {value!r}")
        return value

    @traitlets.validate("strip_method")
    def _valid_strip_method(self, proposal: dict[str, Any]) -> str:
        return self._one_of("strip_method", proposal["value"], list(STRIP_METHODS))

    @traitlets.validate("heatmap_quantity")
    def _valid_quantity(self, proposal: dict[str, Any]) -> str:
        if getattr(self, "_comparison", None) is not None:  # AttentionWidget.compare: b - a, or either run
            if proposal["value"] not in COMPARE_QUANTITIES:
                raise traitlets.TraitError(
                    f"heatmap_quantity must be one of {list(COMPARE_QUANTITIES)}, got {proposal['value']!r}"
                )
            return proposal["value"]
        return self._one_of("heatmap_quantity", proposal["value"], ["attention", "attention_x_gradient"])

    @traitlets.validate("target_position")
    def _valid_target_position(self, proposal: dict[str, Any]) -> int:
        return self._check_index("target_position", proposal["value"], self.n_tokens, True)

    @traitlets.validate("flow_span")
    def _valid_flow_span(self, proposal: dict[str, Any]) -> str:
        names = [s["name"] for s in self.spans]
        if proposal["value"] not in ["", *names]:
            raise traitlets.TraitError(f"flow_span must be '' (all tokens) or one of {names}, got {proposal['value']!r}")
        return proposal["value"]

    # ----------------------------------------------------------------- saliency
    def _target_arg(self) -> Any:
        return self.target_token.strip() or self._callable_target

    def _position_arg(self) -> int | None:
        return None if self.target_position < 0 else self.target_position

    def _flow_span(self) -> tuple[int, int] | None:
        for span in self.spans:
            if span["name"] == self.flow_span:
                return span["start"], span["end"]
        return None

    @property
    def saliency(self) -> Any:
        """The current ``attribution.Saliency`` (attention x gradient, head importance, target)."""
        if self._saliency is None:
            raise AttributeError("this widget shows no saliency: create it with from_model(..., saliency=True)")
        return self._saliency.current

    @contextmanager
    def _computing(
        self, what: str, announce: bool = True, refusals: tuple[type[Exception], ...] = (), refused: str = ""
    ) -> Iterator[list[Exception]]:
        """``busy`` and a status line while Python computes ``what`` (``announce=False`` for quick
        work: no flicker); busy ends whatever happens. An error is put in the yielded list and shown
        in the status line: a refusal of the user's input (one of ``refusals``) after ``refused``,
        anything else as a failure, also warned in Python."""
        failed: list[Exception] = []
        if announce:
            self.set_trait("busy", True)
            self.set_trait("status", f"computing {what}…")
        try:
            yield failed
        except Exception as err:  # noqa: BLE001 - shown to the user, never a silent stall
            failed.append(err)
            if isinstance(err, refusals):
                self.set_trait("status", f"{refused}: {err}")
            else:
                self.set_trait("status", f"could not compute {what}: {err}")
                warnings.warn(f"attn_widget could not compute {what}: {type(err).__name__}: {err}", RuntimeWarning, stacklevel=3)
        finally:
            self.set_trait("busy", False)

    def _put_back(self, name: str, old: Any) -> None:
        """Restore a trait the user changed when the change could not be honoured."""
        self._reverting = True
        try:
            setattr(self, name, old)
        finally:
            self._reverting = False

    @traitlets.observe("target_position", "target_token")
    def _target_changed(self, change: dict[str, Any]) -> None:
        if not self._ready or self._saliency is None or self._reverting:
            return
        what = self.target_token.strip() or ("the callable target" if self._callable_target else "the top prediction")
        refusals = (ValueError, TypeError)  # a word that is not one token, a position out of range
        with self._computing(f"saliency for {what!r}", refusals=refusals, refused="could not explain that target") as failed:
            self._saliency.compute(self._target_arg(), self._position_arg())
        if failed:
            self._put_back(change["name"], change["old"])  # keep showing the last target that worked
            return
        self._engine.forget(lambda key: key[0] == "attention_x_gradient")  # tiles of the old target
        with self.hold_sync():
            self.set_trait("_saliency_version", self._saliency_version + 1)
            self.set_trait("target_label", self._saliency.current.target.description)
            if self.grid_metric in SALIENCY_METRICS:
                self._send_grid()
            if not self._send_strip():
                return
            self.set_trait("status", "")

    @traitlets.observe("strip_method")
    def _strip_method_changed(self, change: dict[str, Any]) -> None:
        if self._ready and not self._reverting and not self._send_strip():
            self._put_back("strip_method", change["old"])  # the strip keeps what it showed

    def _send_strip(self) -> bool:
        """The strip's per-token vector for saliency methods (the attention row is drawn by the
        browser from the shown head). False when it could not be computed (the status says why)."""
        if self._saliency is None or self.strip_method == "attention":
            return True
        slow = self.strip_method in ("gradient_x_input", "integrated_gradients")
        with self._computing(STRIP_METHODS[self.strip_method], announce=slow) as failed:
            vector = self._saliency.strip(self.strip_method, self.layer, self.head)
        if failed:
            return False
        with self.hold_sync():
            self.set_trait(
                "_strip_values",
                {
                    "what": "strip",
                    "method": self.strip_method,
                    "layer": self.layer,
                    "head": self.head,
                    "version": self._saliency_version,
                    "shape": [int(vector.values.size)],
                    "encoding": "dec3",
                    "data": dec3_bytes(vector.values),
                },
            )
            self.set_trait("strip_label", vector.label)
            self.set_trait("status", "")
        return True
