"""Differentiable gates on every attention call, for attribution (methods.py).

transformers v5 has no ``head_mask``, so we register our own attention implementation,
``attn_widget_gates``, through the same ``AttentionInterface`` capture uses. It computes attention
the way the eager implementation does (same operations, same order, same float mask; soft-capping,
a position bias and sinks as the family's eager code applies them) and inserts
two gates that are all ones, so the model's outputs are unchanged:

* an attention gate G (B, H, Nq, Nk) multiplying the post-softmax weights: dLoss/dG = A * dLoss/dA,
  the attention x gradient saliency of Wang et al. (2023), every head from one backward pass;
* a head gate xi (H,) on each head's output before the output projection: dLoss/dxi is the head
  importance of Michel et al. (2019). Setting a head's gate to 0 ablates that head.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..capturing.swap_attention import attention_implementation, refuse_unmodelled

if TYPE_CHECKING:
    from transformers import PreTrainedModel

IMPLEMENTATION = "attn_widget_gates"


@dataclass
class GatedCall:
    """One attention call: its weights (detached), its gates (leaves with gradients after backward)."""

    module_name: str
    weights: Any  # (B, H, Nq, Nk), detached
    attention_gate: Any  # (B, H, Nq, Nk) ones, requires_grad
    head_gate: Any  # (H,) ones (or the values asked for), requires_grad


@dataclass
class Gates:
    """The gated calls of one forward pass, in call order (= layer order)."""

    head_values: dict[int, Sequence[float]] = field(default_factory=dict)  # layer -> per-head gate
    attention_gates: bool = True
    module_names: dict[int, str] = field(default_factory=dict)
    only: str = ""  # module-name prefix of the calls gated; the others (a vision tower) run ungated, unrecorded
    calls: list[GatedCall] = field(default_factory=list)

    def attend(
        self, module: Any, query: Any, key: Any, value: Any, mask: Any, scaling: float | None, kwargs: dict[str, Any]
    ) -> Any:
        import torch

        refuse_unmodelled(kwargs, "attribution", "the gates")
        groups = int(query.shape[1]) // int(key.shape[1])
        if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
            key = key.repeat_interleave(groups, dim=1)
            value = value.repeat_interleave(groups, dim=1)
        scale = query.shape[-1] ** -0.5 if scaling is None else scaling
        scores = torch.matmul(query, key.transpose(2, 3)) * scale
        n_q, n_k = int(scores.shape[-2]), int(scores.shape[-1])
        softcap = kwargs.get("softcap")
        if softcap is not None:  # Gemma 2: before the mask
            scores = torch.tanh(scores / softcap) * softcap
        if kwargs.get("position_bias") is not None:  # T5's relative position buckets
            scores = scores + kwargs["position_bias"]
        if mask is not None:
            if mask.dtype == torch.bool:
                scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            else:
                scores = scores + mask
        elif n_q > 1 and getattr(module, "is_causal", False) and kwargs.get("is_causal", True) is not False:
            future = torch.ones(n_q, n_k, dtype=torch.bool, device=scores.device).triu_(n_k - n_q + 1)
            scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        sinks = kwargs.get("s_aux", kwargs.get("sinks"))
        if sinks is None:
            weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
        else:  # gpt-oss: the sink joins each row's denominator and takes no column
            sink = sinks.reshape(1, -1, 1, 1).to(scores.dtype).expand(scores.shape[0], -1, n_q, 1)
            both = torch.cat([scores, sink], dim=-1)
            both = both - both.max(dim=-1, keepdim=True).values
            weights = torch.softmax(both, dim=-1, dtype=torch.float32)[..., :-1].to(query.dtype)
        name = self.module_names.get(id(module), type(module).__name__)
        if not name.startswith(self.only):
            return torch.matmul(weights, value).transpose(1, 2).contiguous(), None
        layer = len(self.calls)
        gate = torch.ones_like(weights, requires_grad=True) if self.attention_gates else None
        gated = weights * gate if gate is not None else weights
        output = torch.matmul(gated, value)  # (B, H, Nq, d)
        values = self.head_values.get(layer)
        head_gate = torch.tensor(
            [1.0] * int(query.shape[1]) if values is None else list(values), dtype=output.dtype, device=output.device
        ).requires_grad_(True)
        output = output * head_gate[None, :, None, None]
        self.calls.append(GatedCall(name, weights.detach(), gate, head_gate))
        return output.transpose(1, 2).contiguous(), None


_active: list[Gates] = []


def _gated_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
    if not _active:
        raise RuntimeError("attn_widget_gates attention was called outside attn_widget.gates.gated()")
    scaling = kwargs.pop("scaling", args[1] if len(args) > 1 else None)
    kwargs.pop("dropout", None)
    return _active[-1].attend(module, query, key, value, attention_mask, scaling, kwargs)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(IMPLEMENTATION, _gated_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


@contextmanager
def gated(
    model: PreTrainedModel,
    *,
    head_values: dict[int, Sequence[float]] | None = None,
    attention_gates: bool = True,
    only: str = "",
) -> Iterator[Gates]:
    """Within the body, ``model``'s attention runs through the gates (eval mode; dropout off).
    ``head_values`` sets chosen head gates (layer -> one value per head; 0 ablates a head).
    ``only``: gate the calls of modules whose names start with it (a VLM's language model); the
    others run the same eager computation without gates.
    The attention implementation and train/eval mode are restored afterwards."""
    _register()
    names = {id(m): n for n, m in model.named_modules()} if hasattr(model, "named_modules") else {}
    gates = Gates(head_values=dict(head_values or {}), attention_gates=attention_gates, module_names=names, only=only)
    with attention_implementation(model, IMPLEMENTATION, _active, gates) as state:
        yield state
