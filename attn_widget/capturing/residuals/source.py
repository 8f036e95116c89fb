"""How a capture gets its residual parts: recorded in its own pass (``capture(..., explain=True)``)
or in a second pass over the same inputs when first asked (``w.explain()``).

A capture made from a model remembers the model weakly (the capture does not keep a model alive)
and its inputs; both maps are keyed weakly by the capture, so nothing outlives it.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .families import structure_of
from .recording import ResidualRecording, recording_residuals


@dataclass(frozen=True)
class ExplainSource:
    """What runs the capture's forward pass again: the model (weakly), its inputs on the CPU, the
    batch row and the positions kept (padding dropped)."""

    model: weakref.ref[Any]
    inputs: dict[str, Any]
    example: int
    keep: Any
    tokenizer: Any  # names the vocabulary's tokens for w.writes

    def record(self) -> ResidualRecording:
        """A second forward pass, recording the residual parts (no gradients, eval mode)."""
        import torch

        model = self.model()
        if model is None:
            raise RuntimeError("explain: the model this capture was made with is gone; capture again with explain=True")
        device = next(model.parameters()).device
        inputs = {k: v.to(device) for k, v in self.inputs.items()}
        was_training = model.training
        model.eval()
        try:
            with residuals_kept(model, self.example) as recorded, torch.no_grad():
                model(**inputs, **quiet_forward(model))
        finally:
            model.train(was_training)
        return recorded[0].restrict(self.keep)


def quiet_forward(model: Any) -> dict[str, Any]:
    """Forward arguments that keep no cache and skip the (N, vocab) logits where the model allows."""
    extra: dict[str, Any] = {"use_cache": False, "return_dict": True}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1
    return extra


@contextmanager
def residuals_kept(model: Any, example: int) -> Iterator[list[ResidualRecording]]:
    """Around a forward pass: the residual recording, as the list's one item once the pass is done
    (the family is checked first, so a refused family is refused before anything runs)."""
    structure = structure_of(model)
    done: list[ResidualRecording] = []
    with recording_residuals(structure, example) as rec:
        yield done
    done.append(rec)


_sources: weakref.WeakKeyDictionary[Any, ExplainSource] = weakref.WeakKeyDictionary()
_recorded: weakref.WeakKeyDictionary[Any, ResidualRecording] = weakref.WeakKeyDictionary()


def remember_source(
    capture: Any, model: Any, tokenizer: Any, inputs: dict[str, Any], example: int, keep: Any, recorded: ResidualRecording | None
) -> None:
    """Keep how to rerun ``capture``'s pass (and the residual parts its pass recorded, if any)."""
    cpu = {k: v.detach().cpu() for k, v in inputs.items() if hasattr(v, "detach")}
    _sources[capture] = ExplainSource(weakref.ref(model), cpu, example, keep, tokenizer)
    if recorded is not None:
        _recorded[capture] = recorded.restrict(keep)


def source_of(capture: Any) -> ExplainSource | None:
    return _sources.get(capture)


def recorded_residuals(capture: Any) -> ResidualRecording:
    """The capture's residual parts: those its pass recorded, else a second pass's (kept for next time)."""
    if capture in _recorded:
        return _recorded[capture]
    source = _sources.get(capture)
    if source is None:
        raise ValueError(
            "explain needs the model and the text it read: this widget was made from arrays, a cache, pictures or "
            "live generation (use AttentionWidget.from_model(model, tokenizer, text) or "
            "attn_widget.capture(model, tokenizer, text, explain=True))"
        )
    _recorded[capture] = source.record()
    return _recorded[capture]
