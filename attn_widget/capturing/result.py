"""``Capture``: the attention of one text, any head on demand, for one or more attention kinds.

A decoder-only or encoder-only model has one kind (``"self"``); an encoder-decoder has three
(``"encoder"``, ``"decoder"``, ``"cross"``). With images, a vision tower's self-attention is
``"vision"`` (a vision-language model's language model is ``"self"``, and Mllama's text-to-image
attention ``"cross"``). Each kind has its own layers, heads and the tokens on its two axes: rows
are queries (the attending tokens), columns keys. Heads are either recomputed from recorded
queries and keys (``attn_widget.capture``) or read from an array the user gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import is_int
from .arrays import normalize_attention
from .head_source import HeadSource, LogitHead, ValueHead
from .tokens import check_tokens

KIND_LABELS = {
    "self": "self-attention",
    "vision": "vision self-attention (image patches)",
    "encoder": "encoder self-attention",
    "decoder": "decoder self-attention",
    "cross": "cross-attention (decoder queries, encoder keys)",
}

#: Kinds whose queries and keys are one sequence of positions.
SELF_ATTENTION_KINDS = ("self", "encoder", "decoder", "vision")

#: attentions() refuses to build a full (L, H, Nq, Nk) array larger than this unless asked.
DEFAULT_MAX_BYTES = 4 * 1024**3


#: The per-position flags an axis carries, each a list of bools as long as its tokens. The widget
#: sends each as a trait of the same name (and ``_query_<name>`` for the query axis), so a new
#: kind of position (an image patch, say) is one name here, one field below and its two traits.
AXIS_FLAGS = ("special", "generated")

#: The columns of a patch map (``Axis.patches``, ``Capture.patches``).
PATCH_COLUMNS = ("token", "image", "x0", "y0", "x1", "y1")


def no_patches() -> np.ndarray:
    return np.zeros((0, len(PATCH_COLUMNS)), dtype=np.int64)


@dataclass(frozen=True)
class Axis:
    """The positions along one axis: their labels, and which are special tokens or generated.

    ``patches``: the positions that are image patches, an int64 (P, 6) array of rows
    ``PATCH_COLUMNS``: the position on this axis, the image's index, and the box of the original
    image's pixels it covers (x0, y0, x1, y1, end exclusive), in axis order. Empty for text."""

    tokens: list[str]
    special: list[bool]
    generated: list[bool]
    patches: np.ndarray = field(default_factory=no_patches, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def of(
        cls,
        tokens: Sequence[str],
        special: Sequence[bool] | None = None,
        generated: Sequence[bool] | None = None,
        patches: np.ndarray | None = None,
    ) -> Axis:
        n = len(tokens)
        return cls(
            list(tokens),
            [False] * n if special is None else [bool(s) for s in special],
            [False] * n if generated is None else [bool(g) for g in generated],
            no_patches() if patches is None else _checked_patches(patches, n),
        )


def _kept_picture(picture: np.ndarray) -> np.ndarray:
    """A read-only copy: the widget shows the picture that was captured, whatever the caller
    does to its array afterwards."""
    kept = np.array(picture, dtype=np.uint8, copy=True)
    if kept.ndim != 3 or kept.shape[2] != 3:
        raise ValueError(f"a picture must have shape (height, width, 3), got {kept.shape}")
    kept.flags.writeable = False
    return kept


def _checked_patches(patches: np.ndarray, n: int) -> np.ndarray:
    rows = np.asarray(patches, dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] != len(PATCH_COLUMNS):
        raise ValueError(f"patches must have shape (P, {len(PATCH_COLUMNS)}), got {rows.shape}")
    if len(rows) and not (0 <= rows[:, 0].min() and rows[:, 0].max() < n):
        raise ValueError(f"patches name positions outside the axis of {n}")
    return rows


class Kind:
    """One kind of attention: n_layers x n_heads heads, each a (len(queries), len(keys)) matrix."""

    def __init__(self, id: str, queries: Axis, keys: Axis, n_layers: int, n_heads: int) -> None:
        self.id = id
        self.label = KIND_LABELS.get(id, id)
        self.queries = queries
        self.keys = keys
        self.n_layers = n_layers
        self.n_heads = n_heads

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n_layers, self.n_heads, len(self.queries.tokens), len(self.keys.tokens))

    @property
    def square(self) -> bool:
        """Self-attention: queries and keys are the same positions (what the detectors need)."""
        return self.id in SELF_ATTENTION_KINDS and len(self.queries) == len(self.keys)

    def heads(self, layer: int, heads: slice) -> np.ndarray:
        """float32 (h, Nq, Nk) for the heads ``heads`` of ``layer``."""
        raise NotImplementedError

    def source(self, layer: int, head: int) -> HeadSource:
        """One head as a tile source (head_source.py): any window, computed on demand."""
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """Bytes this kind holds (an array, or recorded queries, keys and masks)."""
        raise NotImplementedError

    @property
    def has_sink(self) -> bool:
        """Its heads have a sink (gpt-oss): rows of weights sum to less than 1."""
        return False


class ArrayKind(Kind):
    """Heads read from a float32 (L, H, Nq, Nk) array (what the user passed)."""

    def __init__(self, id: str, array: np.ndarray, queries: Axis, keys: Axis) -> None:
        super().__init__(id, queries, keys, array.shape[0], array.shape[1])
        self.array = array

    def heads(self, layer: int, heads: slice) -> np.ndarray:
        return self.array[layer, heads]

    def source(self, layer: int, head: int) -> HeadSource:
        return ValueHead(self.array[layer, head])

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


class RecordedKind(Kind):
    """Heads recomputed on demand from each layer's recorded queries and keys (recorder.py)."""

    def __init__(self, id: str, calls: list[Any], queries: Axis, keys: Axis) -> None:
        super().__init__(id, queries, keys, len(calls), calls[0].n_heads)
        self.calls = calls

    def heads(self, layer: int, heads: slice) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.calls[layer].weights(heads).cpu().numpy()

    def source(self, layer: int, head: int) -> HeadSource:
        return LogitHead(self.calls[layer], head)

    @property
    def has_sink(self) -> bool:
        return any(call.sink is not None for call in self.calls)

    @property
    def nbytes(self) -> int:
        seen: set[int] = set()
        total = 0
        for call in self.calls:
            for t in (call.q, call.k, call.mask, *(() if call.bias is None else call.bias.tensors())):
                if t is not None and id(t) not in seen:  # a mask shared by layers counts once
                    seen.add(id(t))
                    total += t.numel() * t.element_size()
        return total


class Capture:
    """The attention of one text. ``attention(layer, head)`` gives one head, ``attentions()`` all.

    ``kind`` arguments default to the first kind (``"self"``, or ``"encoder"`` for an
    encoder-decoder); ``kinds`` lists those held. ``images``: the pictures the input held (a
    capture with ``images=``), each the original uint8 (H, W, 3), in the order the patch maps'
    ``image`` column counts them.
    """

    #: True for a live generation's capture (AttentionWidget.generate): it grows by rows at its end.
    growing = False

    def __init__(self, kinds: Sequence[Kind], images: Sequence[np.ndarray] = (), note: str = "") -> None:
        if not kinds:
            raise ValueError("a Capture needs at least one kind of attention")
        self._kinds = {k.id: k for k in kinds}
        self._images = tuple(_kept_picture(p) for p in images)
        self._note = note

    @property
    def note(self) -> str:
        """What the widget's status line says about how this capture was made: for a family that
        computes attention its own way (DeBERTa-v2, MPNet, Bloom), that its weights were kept whole
        from one eager pass and it has no long-input path; '' otherwise."""
        return self._note

    @property
    def long_inputs(self) -> bool:
        """True when every head is recomputed on demand from queries and keys (nothing N x N held,
        the long-input path); False when weights are held as arrays (``note`` says why)."""
        return all(isinstance(k, RecordedKind) for k in self._kinds.values())

    @classmethod
    def from_array(
        cls, attention: Any, tokens: Any, *, special: Sequence[bool] | None = None, example: int | None = None
    ) -> Capture:
        """Wrap a Hugging Face attention tuple, a tensor or an array ``(L, H, N, N)``."""

        array = normalize_attention(attention, example=example)
        labels = check_tokens(tokens, array.shape[-1])
        if special is not None and len(special) != len(labels):
            raise ValueError(f"special has {len(special)} entries, expected one per token ({len(labels)})")
        axis = Axis.of(labels, special)
        return cls([ArrayKind("self", array, axis, axis)])

    # ------------------------------------------------------------------ what it holds
    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def kind(self, kind: str | None = None) -> Kind:
        name = self.kinds[0] if kind is None else kind
        if name not in self._kinds:
            raise ValueError(f"kind must be one of {list(self._kinds)}, got {kind!r}")
        return self._kinds[name]

    @property
    def tokens(self) -> list[str]:
        """The input's tokens (the encoder's for an encoder-decoder)."""
        return list(self.kind().keys.tokens)

    @property
    def special(self) -> list[bool]:
        return list(self.kind().keys.special)

    @property
    def generated(self) -> list[bool]:
        """Per token of the last kind's queries: True where the token was generated."""
        return list(self._kinds[self.kinds[-1]].queries.generated)

    @property
    def images(self) -> list[np.ndarray]:
        """The input's pictures, uint8 (H, W, 3) as given (read-only); [] for a text-only capture.
        Patch boxes (``patches``) are in these pictures' pixels."""
        return list(self._images)

    @property
    def n_layers(self) -> int:
        return self.kind().n_layers

    @property
    def n_heads(self) -> int:
        return self.kind().n_heads

    @property
    def nbytes(self) -> int:
        """Memory the capture holds (on the model's device for a recorded capture)."""
        return sum(k.nbytes for k in self._kinds.values())

    def shape(self, kind: str | None = None) -> tuple[int, int, int, int]:
        """(layers, heads, queries, keys) of ``kind``."""
        return self.kind(kind).shape

    def patches(self, kind: str | None = None) -> np.ndarray:
        """The patch map of ``kind``'s keys: an int64 (P, 6) array, one row per image token on
        that axis: ``token, image, x0, y0, x1, y1``, the token's position, the image's index and
        the box of the original image's pixels it covers (end exclusive). Tokens that are no
        patch (text, CLS, registers, newline markers, padding) have no row; a text-only capture
        has none. A second view of a picture (a tiled model's global image) covers the same
        pixels again, so boxes of different tokens may overlap."""
        return self.kind(kind).keys.patches.copy()

    # ------------------------------------------------------------------ the numbers
    def attention(self, layer: int, head: int, kind: str | None = None) -> np.ndarray:
        """One head's weights, float32 (Nq, Nk), rows = queries."""
        k = self.kind(kind)
        for name, value, upper in (("layer", layer, k.n_layers), ("head", head, k.n_heads)):
            if not is_int(value) or not 0 <= value < upper:
                raise ValueError(f"{name} must be an int in [0, {upper - 1}] for kind {k.id!r}, got {value!r}")
        return np.ascontiguousarray(k.heads(int(layer), slice(int(head), int(head) + 1))[0], dtype=np.float32)

    def attentions(self, kind: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
        """Every head, float32 (L, H, Nq, Nk). Refuses above ``max_bytes`` (default 4 GiB)."""
        k = self.kind(kind)
        size = int(np.prod(k.shape, dtype=np.int64)) * 4
        if size > max_bytes:
            raise MemoryError(
                f"attentions({k.id!r}) would need {size / 2**30:.1f} GiB for shape {k.shape}; ask for "
                f"single heads with attention(layer, head), or pass max_bytes={size} if it fits"
            )
        if isinstance(k, ArrayKind):
            return k.array
        return np.stack([k.heads(layer, slice(None)) for layer in range(k.n_layers)])

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k.id}: {k.shape}" for k in self._kinds.values())
        return f"Capture({kinds}{'; ' + self._note if self._note else ''})"
