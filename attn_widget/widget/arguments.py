"""What ``AttentionWidget(...)`` checks before any work, so a bad argument never surfaces later,
when a view first asks: the input's form, arguments that belong elsewhere, misspelt keywords."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from .._checks import check_int
from ..attribution.prompts import check_images_explainable
from ..attribution.saliency_cache import SaliencyCache
from ..capturing.result import Capture
from ..engine.comparison import Comparison


def check_arguments(
    eager_bytes: Any, linked_saliency: Any, comparison: Any, target: Any, position: Any
) -> tuple[SaliencyCache | None, Comparison | None]:
    check_int("eager_bytes", eager_bytes, low=0, meaning="bytes of weights sent up front")
    if comparison is not None and not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must come from AttentionWidget.compare, got {type(comparison).__name__}")
    if linked_saliency is not None and not isinstance(linked_saliency, SaliencyCache):
        raise TypeError(f"linked_saliency must come from AttentionWidget.from_model, got {type(linked_saliency).__name__}")
    if linked_saliency is None and (target is not None or position is not None):
        raise ValueError(
            "target and position choose the prediction to explain: they need "
            "AttentionWidget.from_model(model, tokenizer, text, saliency=True, target=..., position=...)"
        )
    return linked_saliency, comparison


def as_capture(attention: Any, tokens: Sequence[str] | None, special: Any, example: Any) -> Capture:
    """The capture to show: a ``Capture`` as it is, or an attention array with its ``tokens``."""
    if isinstance(attention, Capture):
        if tokens is not None or special is not None or example is not None:
            raise ValueError("a Capture brings its own tokens: pass tokens, special and example only with an array")
        return attention
    if tokens is None:
        raise TypeError("tokens is required with an attention array: one label per position")
    return Capture.from_array(attention, tokens, special=special, example=example)


def refuse_unknown_keywords(
    kwargs: dict[str, Any], traits: list[str], own: set[str], model_only: set[str], hidden: set[str]
) -> None:
    """A misspelt keyword is a TypeError naming the closest valid one (traitlets would only warn).
    ``own``: the constructor's parameters; ``model_only``: ``from_model``'s own; ``hidden``: names
    never suggested (internal plumbing)."""
    unknown = sorted(set(kwargs) - set(traits))
    if not unknown:
        return
    if unknown[0] in model_only:
        raise TypeError(
            f"{unknown[0]!r} is an argument of AttentionWidget.from_model(model, tokenizer, text, ...), not of AttentionWidget()"
        )
    valid = (own | model_only | {n for n in traits if not n.startswith("_")}) - hidden
    close = difflib.get_close_matches(unknown[0], sorted(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TypeError(f"AttentionWidget got an unexpected keyword argument {unknown[0]!r}{hint}")


def parameters(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters)


def saliency_cache(
    model: Any, tokenizer: Any, text: Any, images: Any, saliency: bool, ig_steps: Any, ig_baseline: Any
) -> SaliencyCache | None:
    """``from_model(..., saliency=True)``'s store of explanations, checked before the capture runs."""
    if not saliency:
        return None
    if images is not None:
        check_images_explainable(model.config)  # a family that cannot be explained says why, first
    if not isinstance(text, str):
        with_images = " (the prompt that goes with the pictures)" if images is not None else ""
        raise ValueError(f"saliency=True explains one text: pass text as a str{with_images}")
    return SaliencyCache(model, tokenizer, text, images=images, ig_steps=ig_steps, ig_baseline=ig_baseline)
