"""Saliency and head importance for one text and one prediction target. Plain functions, each
``f(model, tokenizer, text, target=..., **options)``, returning numpy float32 arrays (the per-token
attributions are in ``token_saliency.py``).

The scalar explained is ``f``: for a causal language model, the log-probability of ``target``
predicted after position ``position`` (``log p(target) - log p(foil)`` with a foil); for any model,
whatever a callable ``target(outputs)`` returns. The loss is ``L = -f``.

* ``attention_x_gradient`` (L, H, N, N): ``A * dL/dA`` per head, signed (Wang et al. 2023);
* ``head_importance`` (L, H): ``dL/dxi`` for a gate xi on each head's output (Michel et al. 2019);
  for every head it equals the sum of that head's attention x gradient;
* ``gradient_x_input`` (N,): ``sum_d e_id * df/de_id`` (signed; token embeddings, positions excluded);
* ``gradient_norm`` (N,): ``||df/de_i||_2``;
* ``integrated_gradients`` (N,): Sundararajan et al. (2017) along a straight path from a baseline,
  with its completeness gap ``sum IG - (f(x) - f(baseline))`` in ``.completeness_gap``;
* ``attention_rollout`` (N, N): Abnar & Zuidema (2020) from the captured attention.

Each takes ``images=`` too (a vision-language model's prompt with pictures; ``tokenizer`` is then
its processor): the heads are its language model's, the embeddings those its language model
receives (``prompts.py``).

Cautions: attention weights say where a head looks, not why the model predicts anything, and
gradients are first-order: ``-head_importance`` estimates the change in loss from removing a head
only to first order. Models run in eval mode and float32; their outputs are unchanged by the gates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from ..capturing.model_config import device_of, layer_count, text_config
from ..capturing.run import capture
from ..capturing.tokens import readable_tokens
from .gates import gated
from .prompts import prompt_of

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class Target:
    """What ``f`` measures: ``log p(token | text up to position)`` [- ``log p(foil | ...)``]."""

    position: int | None
    token_id: int | None
    token: str | None
    foil_id: int | None
    foil: str | None
    description: str


@dataclass(frozen=True)
class Saliency:
    """One forward and one backward pass: attention, attention x gradient and head importance."""

    tokens: list[str]
    special: list[bool]
    target: Target
    f: float
    attention: np.ndarray  # (L, H, N, N)
    attention_x_gradient: np.ndarray  # (L, H, N, N), A * dL/dA, L = -f
    head_importance: np.ndarray  # (L, H), dL/dxi


# ---------------------------------------------------------------------------------- targets
def token_id(tokenizer: PreTrainedTokenizerBase, token: str | int, name: str = "target") -> int:
    """The id of a single-token word: "horse", " horse" (byte-level BPE), or an id."""
    if not (is_int(token) or isinstance(token, str)):
        raise TypeError(f"{name} must be a token (str), a token id (int) or a callable, got {type(token).__name__}")
    vocab = len(tokenizer)
    if isinstance(token, (int, np.integer)):
        if not 0 <= int(token) < vocab:
            raise ValueError(f"{name} id must be in [0, {vocab - 1}], got {token}")
        return int(token)
    if not token.strip():
        raise ValueError(f"{name} is empty: give the word whose prediction to explain")
    direct = tokenizer.convert_tokens_to_ids(token)
    unk = getattr(tokenizer, "unk_token_id", None)
    if isinstance(direct, int) and direct != unk and direct is not None and direct >= 0:
        return direct
    tried = {}
    for form in (" " + token.strip(), token.strip(), token):
        ids = tokenizer(form, add_special_tokens=False)["input_ids"]
        tried[form] = ids
        if len(ids) == 1:
            return int(ids[0])
    raise ValueError(
        f"{name} {token!r} is not a single token (it tokenizes to {tried}); pass a token id or a word from the vocabulary"
    )


class Objective:
    """f(outputs) -> per-example values (batch,); ``forward_kwargs`` to pass to the model (a token
    target needs the logits at one position only); ``describe(outputs)`` names the target once the
    first outputs are known (the default target is the model's own top prediction)."""

    def __init__(self, f: Callable[[Any], Any], describe: Callable[[Any], Target], forward_kwargs: dict[str, Any]) -> None:
        self.f = f
        self.describe = describe
        self.forward_kwargs = forward_kwargs

    def __call__(self, outputs: Any) -> Any:
        return self.f(outputs)


def make_objective(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, n_tokens: int, target: Any, position: int | None, foil: Any
) -> Objective:
    import torch

    if callable(target):
        if position is not None or foil is not None:
            raise ValueError("position and foil apply to a token target, not to a callable target")

        def f_callable(outputs: Any) -> Any:
            value = target(outputs)
            value = torch.as_tensor(value)
            return value.reshape(-1).float()

        return Objective(
            f_callable, lambda _o: Target(None, None, None, None, None, getattr(target, "__name__", "callable target")), {}
        )

    if not hasattr(model, "get_output_embeddings") or model.get_output_embeddings() is None:
        raise ValueError(
            f"{type(model).__name__} has no language-model head: pass target=callable(outputs) -> scalar "
            "(for example a class logit), or use a *ForCausalLM model"
        )
    t = n_tokens - 1 if position is None else position
    if not is_int(t) or not 0 <= t < n_tokens:
        raise ValueError(f"position must be an int in [0, {n_tokens - 1}] (the token after which to predict), got {position!r}")
    t = int(t)
    fixed = None if target is None else token_id(tokenizer, target)
    foil_id = None if foil is None else token_id(tokenizer, foil, "foil")
    chosen: dict[str, int] = {}
    # Only the logits at t are needed: at small N the (N x vocabulary) output layer would cost more
    # than the rest of the model.
    keep: dict[str, Any] = {}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        keep["logits_to_keep"] = torch.tensor([t], device=device_of(model))

    def f_token(outputs: Any) -> Any:
        column = 0 if keep else t
        logp = torch.log_softmax(outputs.logits[:, column].float(), dim=-1)
        if "id" not in chosen:
            chosen["id"] = int(logp[0].argmax()) if fixed is None else fixed
        value = logp[:, chosen["id"]]
        if foil_id is not None:
            value = value - logp[:, foil_id]
        return value

    def describe(_outputs: Any) -> Target:
        tid = chosen["id"]
        word = readable_tokens(tokenizer, [tid])[0][0]
        foil_word = None if foil_id is None else readable_tokens(tokenizer, [foil_id])[0][0]
        how = "the model's top prediction" if fixed is None else "chosen"
        text = f"log p({word!r} after position {t}) ({how})" + (f" - log p({foil_word!r})" if foil_word else "")
        return Target(t, tid, word, foil_id, foil_word, text)

    return Objective(f_token, describe, keep)


# ---------------------------------------------------------------------------------- attention x gradient
def saliency(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any = None,
    *,
    position: int | None = None,
    foil: Any = None,
    text_pair: str | None = None,
    images: Any = None,
    max_bytes: int = 8 * 1024**3,
) -> Saliency:
    """Attention, attention x gradient and head importance from one forward and one backward pass.
    Every head's N x N weights and their gradients are held at once: refused (MemoryError) when
    they would take more than ``max_bytes``.

    With ``images`` (``tokenizer`` is then the model's processor, ``text`` its prompt), the model
    runs on the processor's full inputs and the heads are the language model's self-attention over
    the prompt with its image tokens (the vision tower is not gated)."""
    import torch

    prompt = prompt_of(model, tokenizer, text, text_pair, images)
    n = prompt.n_tokens
    _check_saliency_size(model.config, n, max_bytes)
    f_of = make_objective(model, prompt.tokenizer, n, target, position, foil)
    with gated(model, only=prompt.gate_prefix) as gates, torch.enable_grad():
        outputs = prompt.run(**f_of.forward_kwargs)
        f = f_of(outputs)
        if f.numel() != 1:
            raise ValueError(f"target must give one value for one text, got shape {tuple(f.shape)}")
        loss = -f.sum()
        leaves = [c.attention_gate for c in gates.calls] + [c.head_gate for c in gates.calls]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    n_layers = len(gates.calls)
    attn_grads, head_grads = grads[:n_layers], grads[n_layers:]
    attention = np.stack([c.weights[0].float().cpu().numpy() for c in gates.calls])
    axg = np.stack([np.zeros_like(attention[i]) if g is None else g[0].float().cpu().numpy() for i, g in enumerate(attn_grads)])
    importance = np.stack(
        [np.zeros(attention.shape[1], np.float32) if g is None else g.float().cpu().numpy() for g in head_grads]
    )
    labels, special = readable_tokens(prompt.tokenizer, prompt.ids[0].tolist())
    return Saliency(
        labels,
        special,
        f_of.describe(outputs),
        float(f.detach()),
        attention.astype(np.float32),
        axg.astype(np.float32),
        importance.astype(np.float32),
    )


def _check_saliency_size(config: Any, n: int, max_bytes: int) -> None:
    layers = layer_count(config)
    text = text_config(config)
    heads = next(
        (getattr(text, k) for k in ("num_attention_heads", "n_head", "num_heads") if isinstance(getattr(text, k, None), int)),
        None,
    )
    if layers is None or heads is None:
        return
    need = 2 * 4 * layers * heads * n * n  # weights and their gradients, float32
    if need > max_bytes:
        raise MemoryError(
            f"attention x gradient for {layers} layers x {heads} heads at N = {n} holds {need / 2**30:.1f} GiB "
            f"(weights and gradients of every head); shorten the text, or pass max_bytes={need} if it fits"
        )


def attention_x_gradient(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, target: Any = None, **options: Any
) -> np.ndarray:
    """``A * dL/dA`` for every head, float32 (L, H, N, N), signed; ``L = -f`` (module docstring)."""
    return saliency(model, tokenizer, text, target, **options).attention_x_gradient


def head_importance(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, target: Any = None, **options: Any
) -> np.ndarray:
    """``dL/dxi`` for a gate xi = 1 on each head's output, float32 (L, H), signed (Michel et al.).
    ``-importance`` is the first-order estimate of the loss change when the head is removed."""
    return saliency(model, tokenizer, text, target, **options).head_importance


def gate_loss(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    target: Any = None,
    *,
    head_values: dict[int, Sequence[float]] | None = None,
    **options: Any,
) -> float:
    """The loss ``L = -f`` with chosen head gates (layer -> one value per head; 0 ablates a head):
    the finite-difference and ablation checks of head importance."""
    import torch

    prompt = prompt_of(model, tokenizer, text, options.pop("text_pair", None), options.pop("images", None))
    f_of = make_objective(
        model, prompt.tokenizer, prompt.n_tokens, target, options.pop("position", None), options.pop("foil", None)
    )
    if options:
        raise TypeError(f"unexpected options {sorted(options)}")
    with gated(model, head_values=head_values, attention_gates=False, only=prompt.gate_prefix), torch.no_grad():
        return float(-f_of(prompt.run(**f_of.forward_kwargs)).sum())


# ---------------------------------------------------------------------------------- rollout
def rollout(attentions: Any) -> np.ndarray:
    """Attention rollout of per-layer head-averaged attention: R = A^_L ... A^_1 with
    A^_l = rownorm(0.5 mean_h A_l + 0.5 I). ``attentions``: (L, H, N, N) or a sequence of (H, N, N)."""
    layers = [np.asarray(a, dtype=np.float64) for a in attentions]
    if not layers or any(a.ndim != 3 or a.shape[-1] != a.shape[-2] for a in layers):
        raise ValueError("attentions must be (layers, heads, N, N) with square N x N matrices")
    n = layers[0].shape[-1]
    result = np.eye(n)
    for a in layers:
        hat = 0.5 * a.mean(axis=0) + 0.5 * np.eye(n)
        hat /= hat.sum(axis=-1, keepdims=True)
        result = hat @ result
    return result.astype(np.float32)


def attention_rollout(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, target: Any = None, **options: Any
) -> np.ndarray:
    """Rollout (N, N) of the model's attention on ``text`` (captured, head by head): row t is how
    much each token flows into position t. ``target`` is accepted for a uniform signature and
    ignored: rollout does not depend on the prediction."""
    c = capture(model, tokenizer, text, **options)
    kind = c.kind()
    means = (kind.heads(layer, slice(None)).mean(axis=0, dtype=np.float64)[None] for layer in range(kind.n_layers))
    return rollout(means)
