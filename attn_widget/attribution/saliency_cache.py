"""What the widget shows when it explains a prediction: the saliency of one text (or one prompt
with pictures) for one target, recomputed when the target changes, and the per-token strip vectors
and per-head grid scores derived from it (methods.py does the computing). They belong to one kind
of the capture, ``SaliencyCache.kind``: the language model's self-attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._threads import threads_for, torch_threads
from .methods import Saliency, rollout, saliency
from .prompts import check_images_explainable, check_model
from .token_saliency import check_baseline, check_steps, gradient_x_input, integrated_gradients

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: The strip's methods: id -> label. "attention" is drawn by the browser from the shown head.
#: Colour-bar titles (the strip colours magnitudes): id -> short name.
STRIP_SHORT: dict[str, str] = {
    "attention": "attention weight",
    "attention_x_gradient": "|A·∂L/∂A|",
    "gradient_x_input": "|gradient × input|",
    "integrated_gradients": "|integrated gradients|",
    "rollout": "rollout",
}
#: Signed methods: id -> the name of their signed values (the image panel colours them by sign).
STRIP_SIGNED: dict[str, str] = {
    "attention_x_gradient": "A·∂L/∂A",
    "gradient_x_input": "gradient × input",
    "integrated_gradients": "integrated gradients",
}
STRIP_METHODS: dict[str, str] = {
    "attention": "heatmap row (selected query)",
    "attention_x_gradient": "attention × gradient row (selected head)",
    "gradient_x_input": "gradient × input",
    "integrated_gradients": "integrated gradients",
    "rollout": "attention rollout row",
}

#: Grid metrics that need saliency: id -> (label, description).
SALIENCY_METRICS: dict[str, tuple[str, str]] = {
    "head_importance": (
        "head importance dL/dξ (signed)",
        "Gradient of the loss for the target with respect to a gate on the head's output (Michel et "
        "al. 2019); -value estimates, to first order, the loss change if the head were removed.",
    ),
    "saliency_flow": (
        "saliency flow into target row: Σ|A×∂L/∂A|",
        "Sum over keys (of the chosen span) of |attention × gradient| in the target position's row "
        "(Wang et al. 2023): which heads carry that information to the prediction.",
    ),
}


@dataclass(frozen=True)
class StripVector:
    values: np.ndarray  # (N,) float32, signed
    label: str  # what the colours mean


class SaliencyCache:
    """The widget's store of ``Saliency`` results (``attribution.saliency``) for ``text`` (and
    ``images``, with ``tokenizer`` the model's processor): one per target the user asks for, and
    the strip vectors derived from them."""

    #: The kind of the capture these numbers belong to (its heads, its tokens).
    kind = "self"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        text: str,
        *,
        images: Any = None,
        ig_steps: int | str = "auto",
        ig_baseline: str | int = "zero",
    ) -> None:
        words = tokenizer
        if images is not None:
            check_model(model)
            check_images_explainable(model.config)
            words = getattr(tokenizer, "tokenizer", None)
            if words is None:
                raise TypeError(
                    f"saliency with images needs the model's processor (with a tokenizer), got {type(tokenizer).__name__}"
                )
        # Checked now, not when the strip first asks for integrated gradients.
        try:
            check_steps(ig_steps)
            check_baseline(words, ig_baseline)
        except ValueError as err:
            raise ValueError(f"ig_{err}") from None
        self.model = model
        self.tokenizer = tokenizer
        self.text = text
        self.images = images
        self.ig_steps = ig_steps
        self.ig_baseline = ig_baseline
        self._current: Saliency | None = None
        self._key: tuple[Any, Any] | None = None
        self._strips: dict[tuple[str, int, int], StripVector] = {}
        self._threads = threads_for(model)  # a small model's gradients run on one thread (_threads.py)

    @property
    def current(self) -> Saliency:
        if self._current is None:
            raise RuntimeError("no saliency computed yet: call compute(target, position)")
        return self._current

    def compute(self, target: str | int | None, position: int | None) -> Saliency:
        """Saliency for ``target`` (None: the model's top prediction) after ``position``."""
        key = (target, position)
        if key != self._key:
            with torch_threads(self._threads):
                self._current = saliency(self.model, self.tokenizer, self.text, target, position=position, images=self.images)
            self._key = key
            self._strips.clear()
        return self.current

    def _fixed_target(self) -> dict[str, Any]:
        """The current target for the per-token methods: a callable as given, a token by its id."""
        if self._key is not None and callable(self._key[0]):
            return {"target": self._key[0]}
        t = self.current.target
        return {"target": t.token_id, "position": t.position}

    def strip(self, method: str, layer: int, head: int) -> StripVector:
        """The per-token vector of ``method`` for the current target (attention methods use the
        selected head's row at the target position)."""
        s = self.current
        t = s.target.position if s.target.position is not None else len(s.tokens) - 1
        word = s.target.token if s.target.token is not None else s.target.description
        after = f"after {t} {s.tokens[t]!r}"
        if method == "attention_x_gradient":
            axg = s.attention_x_gradient
            rows = axg[slice(None) if layer < 0 else [layer]][:, slice(None) if head < 0 else [head], t]
            which = f"layer {layer} head {head}" if layer >= 0 and head >= 0 else f"mean of {rows.shape[0] * rows.shape[1]} heads"
            return StripVector(
                rows.mean(axis=(0, 1)),
                f"attention × gradient (A·∂L/∂A), {which}, row {after}, target {word!r}",
            )
        if method == "rollout":
            key = (method, -1, -1)
            if key not in self._strips:
                self._strips[key] = StripVector(rollout(s.attention)[t], f"attention rollout, row {after}")
            return self._strips[key]
        if method in ("gradient_x_input", "integrated_gradients"):
            key = (method, -1, -1)
            if key not in self._strips:
                with torch_threads(self._threads):
                    self._strips[key] = self._token_strip(method, word, after)
            return self._strips[key]
        raise ValueError(f"strip method must be one of {sorted(STRIP_METHODS)}, got {method!r}")

    def _token_strip(self, method: str, word: str, after: str) -> StripVector:
        """Gradient x input or integrated gradients for the current target (a backward pass per
        step: the slow ones)."""
        if method == "gradient_x_input":
            values = gradient_x_input(self.model, self.tokenizer, self.text, images=self.images, **self._fixed_target())
            return StripVector(np.asarray(values, dtype=np.float32), f"gradient × input (∂ log p / ∂e · e) for {word!r} {after}")
        values = integrated_gradients(
            self.model,
            self.tokenizer,
            self.text,
            steps=self.ig_steps,
            baseline=self.ig_baseline,
            images=self.images,
            **self._fixed_target(),
        )
        label = f"integrated gradients ({values.steps} steps, baseline {values.baseline}) for {word!r} {after}; {_convergence(values)}"
        return StripVector(np.asarray(values, dtype=np.float32), label)

    def grid(self, metric: str, span: tuple[int, int] | None) -> np.ndarray:
        s = self.current
        if metric == "head_importance":
            return s.head_importance
        if metric == "saliency_flow":
            t = s.target.position if s.target.position is not None else len(s.tokens) - 1
            row = np.abs(s.attention_x_gradient[:, :, t, :])
            if span is not None:
                row = row[:, :, span[0] : span[1]]
            return row.sum(axis=-1, dtype=np.float64).astype(np.float32)
        raise ValueError(f"metric must be one of {sorted(SALIENCY_METRICS)}, got {metric!r}")


def _convergence(ig: Any) -> str:
    """Whether integrated gradients add up, in words for the strip's caption."""
    change = ig.f_input - ig.f_baseline
    within = f"completeness gap {ig.completeness_gap:.3g} of f(x) − f(baseline) = {change:.3g}"
    if ig.converged:
        return f"{within}: converged (within {ig.tolerance:.0%})"
    return f"{within}: not converged (more than {ig.tolerance:.0%}); more steps would help"
