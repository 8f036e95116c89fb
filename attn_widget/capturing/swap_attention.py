"""Swap a model's attention implementation for one of ours for a while, then put
back the one it had (and its train/eval mode): capture and attribution both do this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@contextmanager
def attention_implementation(model: PreTrainedModel, name: str, active: list[Any], state: Any) -> Iterator[Any]:
    """Within the body ``model`` uses the registered implementation ``name`` in eval mode and
    ``state`` is the active recorder (top of ``active``); everything is restored afterwards."""
    if not hasattr(model, "set_attn_implementation"):
        raise TypeError(f"model must be a transformers PreTrainedModel (v5), got {type(model).__name__}")
    before = getattr(model.config, "_attn_implementation", None)
    was_training = bool(getattr(model, "training", False))
    model.set_attn_implementation(name)
    model.eval()
    active.append(state)
    try:
        yield state
    finally:
        active.pop()
        model.set_attn_implementation(before or "eager")
        if was_training:
            model.train()


# Keyword arguments some attention functions use to change the weights beyond what
# score_changes.py models (soft-capping, compact biases, sinks): a model that passes one is refused by name.
UNMODELLED = ("sliding_window_bias",)


def refuse_unmodelled(kwargs: dict[str, Any], who: str, what: str, advice: str = "") -> None:
    """Raise NotImplementedError naming the first unmodelled argument ``kwargs`` carries."""
    for name in UNMODELLED:
        if kwargs.get(name) is not None:
            raise NotImplementedError(f"{who}: this model's attention uses {name!r}, which {what} does not model yet{advice}")
