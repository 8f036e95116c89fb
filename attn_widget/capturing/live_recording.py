"""Record queries and keys while a model generates, one decoding step at a time.

``generate`` calls each attention layer once per step: the first call (the prompt) with every
prompt position, then one call per new token, with that token's query and the whole key cache.
The cached keys are the ones earlier steps recorded (post-rotary, as the model used them), so a
layer only appends the step's new query rows and new key rows to its growing buffers: nothing is
run twice, nothing N x N is held, and a snapshot (``calls(n)``) is a view of the first ``n``
positions that later steps never change (causal attention: a row never sees later keys).

The recording is kept per thread: decoding runs on its own thread while the kernel answers the
views, and a model called from any other thread meanwhile is not recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .recorder import RecordedCall, Recording, _future, _only_blocks, allowed_mask
from .score_changes import changing_argument
from .swap_attention import attention_implementation, refuse_unmodelled

if TYPE_CHECKING:
    from transformers import PreTrainedModel

IMPLEMENTATION = "attn_widget_live"
# Module-name parts of a vision tower (recorded once, whole, at the prompt's pass) and of
# cross-attention layers (not followed), as capturing/vision/capture.py names them.
_TOWER = frozenset({"vision_tower", "vision_model", "visual", "vision_encoder"})
_CROSS = frozenset({"cross_attn", "crossattention", "encoder_attn"})
_MIN_CAPACITY = 64


class GrowingLayer:
    """One attention layer's queries (H, n, d) and keys (H_kv, n, d), grown by doubling."""

    def __init__(self, name: str, scaling: float) -> None:
        self.name = name
        self.scaling = scaling
        self.q: Any = None
        self.k: Any = None
        self.n = 0

    def append(self, q_new: Any, k_new: Any) -> None:
        import torch

        m = int(q_new.shape[1])
        need = self.n + m
        if self.q is None or need > int(self.q.shape[1]):
            capacity = max(need, 2 * (0 if self.q is None else int(self.q.shape[1])), _MIN_CAPACITY)
            q = torch.empty((q_new.shape[0], capacity, q_new.shape[2]), dtype=q_new.dtype, device=q_new.device)
            k = torch.empty((k_new.shape[0], capacity, k_new.shape[2]), dtype=k_new.dtype, device=k_new.device)
            if self.q is not None:  # earlier snapshots keep viewing the old buffers, which stay as they were
                q[:, : self.n].copy_(self.q[:, : self.n])
                k[:, : self.n].copy_(self.k[:, : self.n])
            self.q, self.k = q, k
        self.q[:, self.n : need].copy_(q_new)
        self.k[:, self.n : need].copy_(k_new)
        self.n = need

    def call(self, n: int) -> RecordedCall:
        return RecordedCall(self.name, self.q[:, :n], self.k[:, :n], mask=None, causal=True, scaling=self.scaling)


class LiveRecording:
    """Every layer's growing queries and keys; ``complete`` counts the positions whose rows every
    layer has (a step is complete when the model's forward returns: ``step_done``)."""

    def __init__(self, module_names: dict[int, str], who: str = "live generation") -> None:
        self._names = module_names
        self._who = who
        self._layers: dict[int, GrowingLayer] = {}
        self._lock = threading.Lock()
        self._checked_masks: dict[tuple[int, int, int], bool] = {}
        #: A vision tower's calls: made once, at the prompt's pass, kept whole (every image or tile).
        self.tower = Recording(example=0, module_names=module_names, whole_batch=True)
        self.complete = 0

    @property
    def n_layers(self) -> int:
        return len(self._layers)

    def record(self, module: Any, query: Any, key: Any, mask: Any, scaling: float | None, kwargs: dict[str, Any]) -> None:
        refuse_unmodelled(kwargs, self._who, "the query/key recomputation")
        layer = self._layers.get(id(module))
        if layer is None:
            name = self._names.get(id(module), type(module).__name__)
            parts = set(name.split("."))
            if parts & _TOWER:
                self.tower.record(module, query, key, mask, scaling, kwargs)
                return
            if parts & _CROSS:
                raise NotImplementedError(
                    f"{self._who}: {name} is a cross-attention layer (text to image, as Mllama has), "
                    "which the live recording does not follow"
                )
            layer = GrowingLayer(name, float(query.shape[-1] ** -0.5 if scaling is None else scaling))
            self._layers[id(module)] = layer
        changing = changing_argument(kwargs)  # capture models these; the growing layers do not keep them
        if changing is not None:
            raise NotImplementedError(
                f"{self._who}: this model's attention uses {changing!r}, which the live recording does not "
                "follow: use AttentionWidget.from_generate (its capture models it)"
            )
        m, n_k = int(query.shape[2]), int(key.shape[2])
        if n_k != layer.n + m:
            raise NotImplementedError(
                f"{self._who}: {layer.name} attended to {n_k} cached keys after {layer.n + m} positions; this "
                "model's cache keeps a different set of positions (a sliding window, or a cache that drops "
                "tokens), which the live recording does not follow: use AttentionWidget.from_generate"
            )
        if mask is not None:
            self._check_causal(mask, m, n_k)
        k_new = key[0, :, n_k - m :]
        with self._lock:
            layer.append(query[0].detach(), k_new.detach())

    def _check_causal(self, mask: Any, m: int, n_k: int) -> None:
        """Refuse a step whose mask is anything but causal over every cached position (padding,
        a sliding window): the growing layers assume it. Layers share one mask: checked once."""
        import torch

        key = (id(mask), m, n_k)
        if key not in self._checked_masks:
            plain = _only_blocks(mask[:1, :1])  # no bias (ALiBi) in it
            if plain:
                allowed = allowed_mask(mask[:1, :1])[0, 0].expand(m, n_k)
                plain = bool(torch.equal(allowed, ~_future(m, n_k, str(allowed.device))))
            self._checked_masks = {key: plain}  # only this step's masks
        if not self._checked_masks[key]:
            raise NotImplementedError(
                f"{self._who}: this model's attention mask is not plain causal over every earlier position "
                "(a sliding window, padding or a bias such as ALiBi), which the live recording does not follow: use AttentionWidget.from_generate"
            )

    def step_done(self) -> None:
        with self._lock:
            counts = {layer.n for layer in self._layers.values()}
            if len(counts) == 1:
                self.complete = counts.pop()

    def calls(self, n: int | None = None) -> list[RecordedCall]:
        """Each layer's recorded call over the first ``n`` positions (default: every complete one)."""
        with self._lock:
            upto = self.complete if n is None else n
            if not 0 < upto <= self.complete:
                raise ValueError(f"n must be in [1, {self.complete}], got {upto}")
            return [layer.call(upto) for layer in self._layers.values()]

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(
                t.numel() * t.element_size() for layer in self._layers.values() for t in (layer.q, layer.k) if t is not None
            )


_by_thread: dict[int, LiveRecording] = {}


def _live_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    state = _by_thread.get(threading.get_ident())
    if state is not None:
        scaling = kwargs.get("scaling", args[1] if len(args) > 1 else None)
        state.record(module, query, key, attention_mask, scaling, kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, _live_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


@contextmanager
def live_recording(model: PreTrainedModel, state: LiveRecording) -> Iterator[LiveRecording]:
    """Within the body, this thread's calls of ``model`` grow ``state``; the model's attention
    implementation and train/eval mode are restored afterwards."""
    _register()
    me = threading.get_ident()
    _by_thread[me] = state
    try:
        with attention_implementation(model, IMPLEMENTATION, [], state):
            yield state
    finally:
        _by_thread.pop(me, None)
