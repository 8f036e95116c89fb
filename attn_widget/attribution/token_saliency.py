"""Token attributions: one number per input token for one prediction, from gradients with respect
to the token embeddings (positions excluded). Each returns a ``TokenAttribution``:

* ``gradient_x_input`` (N,): ``sum_d e_id * df/de_id``, signed;
* ``gradient_norm`` (N,): ``||df/de_i||_2``;
* ``integrated_gradients`` (N,): Sundararajan et al. (2017) along a straight path from a baseline,
  with its completeness gap ``sum IG - (f(x) - f(baseline))`` in ``.completeness_gap``, refined
  until the gap is within ``tolerance`` (``steps="auto"``).

``f`` is the objective of ``methods.py`` (a target token's log-probability, or a callable). With
``images=`` (``tokenizer`` is then the model's processor), the embeddings are those the language
model receives, image tokens included (``prompts.py``), and the baseline is put at every position,
image tokens too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from .methods import Objective, make_objective, token_id
from .prompts import Prompt, prompt_of

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class TokenAttribution(np.ndarray):
    """A float32 array of scores with what produced them in ``.info`` (method, target, and for
    integrated gradients ``completeness_gap``, ``f_input``, ``f_baseline``, ``steps``)."""

    info: dict[str, Any]

    def __new__(cls, values: np.ndarray, **info: Any) -> TokenAttribution:
        obj = np.asarray(values, dtype=np.float32).view(cls)
        obj.info = info
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.info = getattr(obj, "info", {})

    def __getattr__(self, name: str) -> Any:
        info = self.__dict__.get("info", {})
        if name in info:
            return info[name]
        raise AttributeError(name)


# ---------------------------------------------------------------------------------- token saliency
def _embedding_pass(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any,
    position: int | None,
    foil: Any,
    text_pair: str | None,
    images: Any = None,
) -> tuple[Any, Prompt, Objective]:
    """The input embeddings of the example (detached), the example, and the objective."""
    prompt = prompt_of(model, tokenizer, text, text_pair, images)
    f_of = make_objective(model, prompt.tokenizer, prompt.n_tokens, target, position, foil)
    embeds = prompt.embeddings()
    if target is None:
        # Fix the default target (the top prediction) on the real input, before any baseline or
        # interpolated input is evaluated.
        import torch

        with torch.no_grad():
            f_of(prompt.run_embeds(embeds, **f_of.forward_kwargs))
    return embeds, prompt, f_of


def _f_and_grad(prompt: Prompt, embeds: Any, f_of: Objective) -> tuple[Any, Any]:
    """f for each embedding batch row and df/d(embeds); the model's own attention implementation."""
    import torch

    model = prompt.model
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = embeds.clone().requires_grad_(True)
            batch = int(x.shape[0])
            f = f_of(prompt.run_embeds(x, **f_of.forward_kwargs))
            if f.numel() != batch:
                raise ValueError(f"target must give one value per example, got shape {tuple(f.shape)} for {batch}")
            (grad,) = torch.autograd.grad(f.sum(), [x])
    finally:
        model.train(was_training)
    return f.detach(), grad


def gradient_x_input(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any = None,
    *,
    position: int | None = None,
    foil: Any = None,
    text_pair: str | None = None,
    images: Any = None,
) -> TokenAttribution:
    """``sum_d e_id * df/de_id`` per token (N,), signed; e = token embeddings (positions excluded)."""
    embeds, prompt, f_of = _embedding_pass(model, tokenizer, text, target, position, foil, text_pair, images)
    f, grad = _f_and_grad(prompt, embeds, f_of)
    values = (embeds * grad).sum(-1)[0].float().cpu().numpy()
    return TokenAttribution(values, method="gradient x input", target=f_of.describe(None), f=float(f[0]))


def gradient_norm(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any = None,
    *,
    position: int | None = None,
    foil: Any = None,
    text_pair: str | None = None,
    images: Any = None,
) -> TokenAttribution:
    """``||df/de_i||_2`` per token (N,), >= 0 (not normalised: divide by the sum to compare texts)."""
    embeds, prompt, f_of = _embedding_pass(model, tokenizer, text, target, position, foil, text_pair, images)
    f, grad = _f_and_grad(prompt, embeds, f_of)
    values = grad.float().norm(dim=-1)[0].cpu().numpy()
    return TokenAttribution(values, method="gradient norm", target=f_of.describe(None), f=float(f[0]))


#: Adaptive integrated gradients stop when |completeness gap| <= this fraction of |f(x) - f(baseline)|.
IG_TOLERANCE = 0.05
#: ... or when the next refinement would pass this many steps.
IG_MAX_STEPS = 4096
_IG_FIRST_STEPS = 32


def integrated_gradients(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any = None,
    *,
    steps: int | str = "auto",
    tolerance: float = IG_TOLERANCE,
    max_steps: int = IG_MAX_STEPS,
    baseline: str | int = "zero",
    batch_size: int = 8,
    method: str = "midpoint",
    position: int | None = None,
    foil: Any = None,
    text_pair: str | None = None,
    images: Any = None,
) -> TokenAttribution:
    """Integrated gradients per token (N,), signed sum over the embedding dimension, from a baseline
    (``"zero"`` embeddings, ``"pad"``/``"unk"``/``"mask"`` token embeddings, or a token id) to the
    input along a straight line, ``method`` "midpoint" or "right" Riemann sums, ``batch_size``
    points per forward pass. ``.completeness_gap`` = sum IG - (f(x) - f(baseline)).

    ``steps="auto"`` (the default) starts at 32 points and refines (x3 for midpoint sums, x2 for
    right sums, reusing every gradient already taken) until ``|gap| <= tolerance * |f(x) -
    f(baseline)|`` or the next refinement would pass ``max_steps``. An int runs exactly that many.
    ``.converged`` says whether the gap is within the tolerance, ``.steps`` how many were used."""
    import torch

    check_steps(steps)
    adaptive = steps == "auto"
    if not is_int(batch_size, numpy_ok=False) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if method not in ("midpoint", "right"):
        raise ValueError(f"method must be 'midpoint' or 'right', got {method!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a fraction in (0, 1) of |f(x) - f(baseline)|, got {tolerance!r}")
    if not is_int(max_steps, numpy_ok=False) or max_steps < _IG_FIRST_STEPS:
        raise ValueError(f"max_steps must be an int >= {_IG_FIRST_STEPS}, got {max_steps!r}")
    embeds, prompt, f_of = _embedding_pass(model, tokenizer, text, target, position, foil, text_pair, images)
    base, base_name = _baseline(model, prompt.tokenizer, embeds, baseline)
    with torch.no_grad():
        f_input = float(_f_and_grad(prompt, embeds, f_of)[0][0])
        f_base = float(_f_and_grad(prompt, base, f_of)[0][0])
    change = f_input - f_base

    def gradient_sum(alphas: Any) -> Any:
        total = torch.zeros_like(embeds[0])
        for start in range(0, len(alphas), batch_size):
            a = alphas[start : start + batch_size].to(embeds.device)[:, None, None]
            total += _f_and_grad(prompt, base + a * (embeds - base), f_of)[1].sum(0)
        return total

    # Refinement reuses the points already taken: the midpoints of n intervals are among those of
    # 3n, the right ends of n among those of 2n.
    offset, factor = (0.5, 3) if method == "midpoint" else (1.0, 2)

    def points(k: int) -> Any:
        return (torch.arange(k, dtype=torch.float32) + offset) / k

    n = steps if not adaptive else _IG_FIRST_STEPS
    total = gradient_sum(points(n))
    while True:
        values = ((embeds[0] - base[0]) * total / n).sum(-1)
        gap = float(values.sum()) - change
        converged = abs(gap) <= tolerance * abs(change)
        if not adaptive or converged or n * factor > max_steps:
            break
        fine = n * factor
        new = torch.ones(fine, dtype=torch.bool)
        new[torch.arange(n) * factor + (1 if method == "midpoint" else factor - 1)] = False  # the old points
        total = total + gradient_sum(points(fine)[new])
        n = fine
    return TokenAttribution(
        values.float().cpu().numpy(),
        method="integrated gradients",
        target=f_of.describe(None),
        completeness_gap=gap,
        f_input=f_input,
        f_baseline=f_base,
        steps=n,
        baseline=base_name,
        riemann=method,
        converged=converged,
        tolerance=float(tolerance),
    )


def check_baseline(tokenizer: PreTrainedTokenizerBase, baseline: str | int) -> tuple[int | None, str]:
    """The token id (None for zero embeddings) and a name for an integrated-gradients baseline,
    or a ValueError naming what is accepted."""
    if isinstance(baseline, str) and baseline == "zero":
        return None, "zero embeddings"
    if isinstance(baseline, str) and baseline in ("pad", "unk", "mask"):
        tid = getattr(tokenizer, f"{baseline}_token_id", None)
        if tid is None:
            raise ValueError(f"baseline={baseline!r}: the tokenizer has no {baseline} token; use 'zero' or a token id")
        return int(tid), f"{baseline} token embedding"
    if is_int(baseline):
        tid = token_id(tokenizer, int(baseline), "baseline")
        return tid, f"token {tid} embedding"
    raise ValueError(f"baseline must be 'zero', 'pad', 'unk', 'mask' or a token id, got {baseline!r}")


def check_steps(steps: Any) -> None:
    if steps != "auto" and (not is_int(steps, numpy_ok=False) or steps < 1):
        raise ValueError(f"steps must be 'auto' or an int >= 1, got {steps!r}")


def _baseline(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, embeds: Any, baseline: str | int) -> tuple[Any, str]:
    import torch

    tid, name = check_baseline(tokenizer, baseline)
    if tid is None:
        return torch.zeros_like(embeds), name
    row = model.get_input_embeddings()(torch.tensor([[tid]], device=embeds.device)).detach()
    return row.expand_as(embeds).clone(), name
