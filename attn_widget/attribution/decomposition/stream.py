"""The residual stream at a few positions as a sum of named components, rebuilt from a
``ResidualRecording`` with every norm's scale frozen at its recorded value.

With the scales frozen, each norm is affine: its linear part (subtract the mean for a LayerNorm,
times the frozen scale, times the gain) acts on every component, and its shift joins ``"bias"``.
So the stream before any block, and each head's query and key built from it, are exact sums over
the components; the sums equal what the model computed (up to float rounding), while each term is
what that component contributes *at this forward pass's scales*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...capturing.residuals import Norm, ResidualRecording


@dataclass
class Stream:
    """Components at positions: ``names`` (C), ``parts`` (C, P, D) float64, ``"bias"`` last."""

    names: list[str]
    parts: Any


class _Builder:
    def __init__(self, positions: Any, width: int) -> None:
        import torch

        self.positions = positions
        self.names: list[str] = []
        self.parts: list[Any] = []
        self.bias = torch.zeros(len(positions), width, dtype=torch.float64)

    def add(self, name: str, part: Any) -> None:
        self.names.append(name)
        self.parts.append(part.double())

    def norm(self, norm: Norm, scales: Any) -> None:
        """A frozen norm over the whole stream (BERT's post-norms, its embedding norm)."""
        import torch

        scale = scales.index_select(0, self.positions)
        out = norm.linear(torch.stack([*self.parts, self.bias]), scale)
        self.parts = list(out[:-1])
        self.bias = out[-1] + (0 if norm.shift is None else norm.shift)

    def stream(self) -> Stream:
        import torch

        return Stream([*self.names, "bias"], torch.stack([*self.parts, self.bias]))


def as_float64(weight: Any) -> Any:
    """A slice of the model's weights (a view, in its dtype and device) as float64 on the CPU."""
    import torch

    return weight.to(device="cpu", dtype=torch.float64)


def stream_before(rec: ResidualRecording, layer: int, positions: list[int]) -> Stream:
    """The stream entering block ``layer`` (``len(layers)``: leaving the last block, before the
    final norm) at ``positions``, one component per embedding, earlier head and MLP, and bias."""
    import torch

    s = rec.structure
    at = torch.tensor(positions, dtype=torch.long)
    width = int(next(iter(rec.embeddings.values())).shape[1])
    b = _Builder(at, width)
    for name, _ in s.embeddings:
        b.add(name, rec.embeddings[name].index_select(0, at))
    if s.embed_norm is not None:
        b.norm(s.embed_norm, rec.embed_norm)
    for l, parts in enumerate(s.layers[:layer]):
        z = rec.z[l].index_select(0, at).double()  # (P, H, d)
        heads = torch.einsum("phd,hdD->hpD", z, as_float64(parts.w_o))  # each head's share of the output projection
        bias = torch.zeros_like(b.bias) if parts.b_o is None else parts.b_o.expand_as(b.bias)
        if parts.attn_out_norm is not None:  # a norm on the branch (sandwich): frozen, per component
            scale = rec.attn_out_norm[l].index_select(0, at)
            heads = parts.attn_out_norm.linear(heads, scale)
            bias = parts.attn_out_norm.linear(bias[None], scale)[0]
        for h in range(parts.n_heads):
            b.add(f"L{l}H{h}", heads[h])
        b.bias = b.bias + bias
        if parts.after_attn is not None:
            b.norm(parts.after_attn, rec.after_attn[l])
        b.add(f"L{l}.mlp", rec.mlp[l].index_select(0, at))
        if parts.after_mlp is not None:
            b.norm(parts.after_mlp, rec.after_mlp[l])
    return b.stream()


def through_norm(stream: Stream, norm: Norm | None, scales: Any, positions: list[int]) -> Any:
    """The stream through a frozen norm (its shift into bias): (C, P, D)."""
    import torch

    if norm is None:
        return stream.parts
    out = norm.linear(stream.parts, scales.index_select(0, torch.tensor(positions, dtype=torch.long)))
    if norm.shift is not None:
        out[-1] = out[-1] + norm.shift
    return out


def head_vectors(rec: ResidualRecording, layer: int, head: int, side: str, x: Any, position: int) -> Any:
    """Each component's query (``side="q"``) or key for ``head`` at ``position``: ``x`` (C, D) is the
    components after the block's input norm; projection, its bias, QK-norm and rotary follow."""
    parts = rec.structure.layers[layer]
    weight, bias, norm, scales = (
        (parts.w_q, parts.b_q, parts.q_norm, rec.q_norm[layer])
        if side == "q"
        else (parts.w_k, parts.b_k, parts.k_norm, rec.k_norm[layer])
    )
    v = x @ as_float64(weight[head])  # (C, d)
    if bias is not None:
        v[-1] = v[-1] + bias[head]
    if norm is not None:  # QK-norm over the head's dimensions, scale frozen per position and head
        v = v * scales[position, head].double() * norm.gain
    if parts.rotary is not None:
        cos, sin = rec.rotary[layer]
        c, s = cos[position : position + 1][None], sin[position : position + 1][None]  # (1, 1, d)
        rotated, _ = parts.rotary(v[:, None, None, :], v[:, None, None, :], c, s)  # rotary is linear per position
        v = rotated[:, 0, 0, :]
    return v
