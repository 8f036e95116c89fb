"""Record each attention call's queries and keys, as the model used them, through transformers'
``AttentionInterface``.

Every model family in transformers v5 computes attention by calling a function looked up by the
name ``config._attn_implementation`` with the post-rotary queries and keys, the real mask, and the
scaling. We register one more name, ``attn_widget_record``: it stores one example's queries, keys
and mask (or every row's, for a vision tower's batch of images or tiles) and then runs PyTorch's
SDPA exactly as the ``sdpa`` implementation does, so the forward pass is the ordinary memory-light
one and no N x N weight matrix is ever kept. A head's weights are
recomputed later, on demand, from what was stored (``RecordedCall.weights``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .chunked_attention import changed_attention_forward
from .score_changes import Band, Bias, apply, changing_argument, read_bias, sink_logits
from .swap_attention import attention_implementation, refuse_unmodelled

if TYPE_CHECKING:
    from transformers import PreTrainedModel

IMPLEMENTATION = "attn_widget_record"


@dataclass
class RecordedCall:
    """One attention call for one example: ``q`` (H, Nq, d), ``k`` (H_kv, Nk, d) in the model's
    dtype and device; ``mask`` a bool (Nq, Nk) (True = may attend) or None, then ``causal`` says
    whether the implicit mask is causal; ``scaling`` the factor applied to QK^T. ``band``: a
    sliding window (or a causal mask) kept as two numbers instead of ``mask``: query i may see keys
    i - before .. i + after (score_changes.Band). What the model changes before its softmax
    (score_changes.py): ``softcap``, an additive ``bias`` kept compact, and ``sink``, per-head
    logits that join each row's denominator (float32 (H,))."""

    module_name: str
    q: Any
    k: Any
    mask: Any
    causal: bool
    scaling: float
    softcap: float | None = None
    bias: Bias | None = None
    sink: Any = None
    band: Band | None = None

    @property
    def n_heads(self) -> int:
        return int(self.q.shape[0])

    def weights(self, heads: slice | list[int] | None = None) -> Any:
        """Post-softmax weights of the chosen heads, float32 (h, Nq, Nk), on the stored device."""
        import torch

        index = slice(None) if heads is None else heads
        q = self.q[index].float() * self.scaling  # scaling q (N x d) is cheaper than the N x N scores
        group = self.n_heads // int(self.k.shape[0])  # grouped-query: each key head serves `group`
        if group == 1:
            k = self.k[index].float()
        else:
            head_ids = torch.arange(self.n_heads, device=self.q.device)[index]
            k = self.k.index_select(0, head_ids // group).float()
        scores = torch.matmul(q, k.transpose(-1, -2))
        n_q, n_k = int(scores.shape[-2]), int(scores.shape[-1])
        head_ids = list(range(self.n_heads))[index]
        if self.softcap is not None or self.bias is not None:
            for i, h in enumerate(head_ids):
                apply(scores[i], self, h, slice(0, n_q), 0, n_k)
        if self.mask is not None:
            scores.masked_fill_(~self.mask.to(scores.device), float("-inf"))
        elif self.band is not None:
            scores.masked_fill_(self.band.outside(slice(0, n_q), 0, n_k, scores.device), float("-inf"))
        elif self.causal:
            scores.masked_fill_(_future(n_q, n_k, str(scores.device)), float("-inf"))
        if self.sink is not None:
            sink = self.sink.to(scores.device)[head_ids][:, None, None].expand(-1, n_q, 1)
            return torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[..., :-1].contiguous()
        # A query that may attend to nothing gets no weight (-inf rows would give NaN).
        return torch.nan_to_num_(torch.softmax(scores, dim=-1), nan=0.0)

    def allowed(self, device: Any) -> Any:
        """The bool (Nq, Nk) mask, True = may attend, or None for full attention."""
        n_q, n_k = int(self.q.shape[1]), int(self.k.shape[1])
        if self.mask is not None:
            return self.mask.to(device)
        if self.band is not None:
            return ~self.band.outside(slice(0, n_q), 0, n_k, device)
        if self.causal:
            return ~_future(n_q, n_k, str(device))
        return None


@functools.lru_cache(maxsize=2)
def _future(n_q: int, n_k: int, device: str) -> Any:
    """True above the causal diagonal (keys after the query); one per shape, reused by every head."""
    import torch

    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).triu_(n_k - n_q + 1)


@dataclass
class Recording:
    """What one forward pass recorded for one example of the batch."""

    example: int
    module_names: dict[int, str]
    #: record every row of the batch, one call per row (a vision tower's images or tiles)
    whole_batch: bool = False
    calls: list[RecordedCall] = field(default_factory=list)
    # (id(mask), row) -> (mask, our bool copy, its bias): one per distinct mask or bias tensor and row (layers share
    # one); holding the original keeps its id from being reused by another tensor during the pass.
    _masks: dict[tuple[int, int], tuple[Any, Any, Any]] = field(default_factory=dict)  # (tensor, Band | bool mask | None, bias)

    def record(self, module: Any, query: Any, key: Any, mask: Any, scaling: float | None, kwargs: dict[str, Any]) -> None:
        refuse_unmodelled(
            kwargs,
            "capture",
            "the query/key recomputation",
            "; load the model with attn_implementation='eager' and pass "
            "output_attentions=True weights to AttentionWidget instead",
        )
        is_causal = kwargs.get("is_causal")
        is_causal = bool(getattr(module, "is_causal", True) if is_causal is None else is_causal)
        rows = range(int(query.shape[0])) if self.whole_batch else [self.example]
        softcap = kwargs.get("softcap")
        sink = sink_logits(kwargs)
        for b in rows:
            self._record_row(module, query, key, mask, b, is_causal, scaling, kwargs.get("position_bias"))
            self.calls[-1].softcap = None if softcap is None else float(softcap)
            self.calls[-1].sink = sink

    def _record_row(
        self, module: Any, query: Any, key: Any, mask: Any, b: int, is_causal: bool, scaling: float | None, position_bias: Any
    ) -> None:
        n_q, n_heads = int(query.shape[2]), int(query.shape[1])
        stored_mask = bias = None
        if mask is not None:
            # one copy per distinct mask tensor and batch row (layers share one)
            if (id(mask), b) not in self._masks:
                i = b if mask.shape[0] > 1 else 0
                row = allowed_mask(mask[i : i + 1, :1], biased=True)[0, 0]
                allowed = row.expand(n_q, int(key.shape[2])).clone()
                found = None
                if mask.dtype.is_floating_point and not _only_blocks(mask[i]):
                    found = read_bias(
                        mask[i], allowed, n_heads, f"{type(module).__name__}'s attention mask"
                    )  # ALiBi in the mask (Falcon)
                self._masks[(id(mask), b)] = (mask, Band.of(allowed) or allowed, found)
            _, stored_mask, bias = self._masks[(id(mask), b)]
        band = stored_mask if isinstance(stored_mask, Band) else None
        stored_mask = None if band is not None else stored_mask
        if position_bias is not None:
            if bias is not None:
                raise NotImplementedError("capture: this model adds both a position bias and a biased mask; not modelled")
            if (id(position_bias), b) not in self._masks:
                i = b if position_bias.shape[0] > 1 else 0
                found = read_bias(position_bias[i], None, n_heads, f"{type(module).__name__}'s position bias")  # T5's buckets
                self._masks[(id(position_bias), b)] = (position_bias, None, found)
            bias = self._masks[(id(position_bias), b)][2]
        self.calls.append(
            RecordedCall(
                module_name=self.module_names.get(id(module), type(module).__name__),
                q=query[b].detach().clone(),
                k=key[b].detach().clone(),
                mask=stored_mask,
                causal=stored_mask is None and band is None and n_q > 1 and is_causal,
                band=band,
                scaling=float(query.shape[-1] ** -0.5 if scaling is None else scaling),
                bias=bias,
            )
        )


def allowed_mask(mask: Any, biased: bool = False) -> Any:
    """A boolean mask (True = may attend) from the mask an attention function got: sdpa_mask's
    booleans as they are, or an additive float mask whose entries are 0 (attend) or at most half
    the dtype's minimum (masked: exp underflows to exactly 0), as Mllama builds them. Other
    floats are a bias: refused unless ``biased`` (the caller reads the bias, score_changes.py)."""
    import torch

    if mask.dtype == torch.bool:
        return mask
    if not mask.dtype.is_floating_point:
        raise NotImplementedError(f"capture: an attention mask of dtype {mask.dtype} is not one attn_widget can read")
    blocked = mask <= torch.finfo(mask.dtype).min / 2
    if not biased and not _only_blocks(mask):
        raise NotImplementedError(
            "capture: this model adds a float bias to its attention scores (values other than 0 and -inf), "
            "which the query/key recomputation does not model"
        )
    return ~blocked


def _only_blocks(mask: Any) -> bool:
    """A float mask holds 0 and "blocked" only (no bias)."""
    import torch

    return mask.dtype == torch.bool or bool(((mask == 0) | (mask <= torch.finfo(mask.dtype).min / 2)).all())


_active: list[Recording] = []


def _recording_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    scaling = kwargs.get("scaling", args[1] if len(args) > 1 else None)
    if _active:
        _active[-1].record(module, query, key, attention_mask, scaling, kwargs)
    changed = changing_argument(kwargs) is not None
    if changed or (attention_mask is not None and not _only_blocks(attention_mask)):
        return changed_attention_forward(module, query, key, value, attention_mask, scaling, kwargs)
    kwargs.pop("position_bias", None)
    return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, _recording_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


@contextmanager
def recording(model: PreTrainedModel, example: int, *, whole_batch: bool = False) -> Iterator[Recording]:
    """Within the body, every attention call of ``model`` is recorded (for batch row ``example``,
    or with ``whole_batch`` for every row, one call each); the model's attention implementation
    and train/eval mode are restored afterwards."""
    _register()
    names = {id(m): name for name, m in model.named_modules()} if hasattr(model, "named_modules") else {}
    state = Recording(example=example, module_names=names, whole_batch=whole_batch)
    with attention_implementation(model, IMPLEMENTATION, _active, state) as rec:
        yield rec
