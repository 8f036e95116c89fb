"""Record, during one forward pass, what rebuilds the residual stream at any position as a sum of
parts: the embeddings, each block's heads' outputs *before* the output projection (N x H x d, the
projection is applied per head later), each MLP branch's addition (N x D), every norm's scale per
position, and the rotary tables each attention call received.

Memory is O(layers x N x D) on the CPU in float32, the size of the hidden states; nothing per
component is kept. Each cell's components are built on demand, for its two positions only
(``attribution/decomposition/stream.py``). Given ``positions``, only those rows are kept (a long
input's row chunks, ``source.py``): every part is per position, so a row needs no other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .families import Norm, Structure


@dataclass
class ResidualRecording:
    """One example's residual parts. Per layer lists hold None where the family has no such part."""

    structure: Structure
    embeddings: dict[str, Any] = field(default_factory=dict)  # component -> (N, D)
    embed_norm: Any = None  # (N,) scale
    attn_norm: list[Any] = field(default_factory=list)  # (N,)
    q_norm: list[Any] = field(default_factory=list)  # (N, H)
    k_norm: list[Any] = field(default_factory=list)  # (N, H_kv)
    z: list[Any] = field(default_factory=list)  # (N, H, d): the heads' outputs before the output projection
    attn_out_norm: list[Any] = field(default_factory=list)  # (N,)
    mlp: list[Any] = field(default_factory=list)  # (N, D): the MLP branch's addition to the stream
    after_attn: list[Any] = field(default_factory=list)  # (N,)
    after_mlp: list[Any] = field(default_factory=list)  # (N,)
    rotary: list[Any] = field(default_factory=list)  # (cos, sin), each (N, d), or None
    final_norm: Any = None  # (N,)
    positions: tuple[int, ...] | None = None  # the positions the rows stand for, if not all of them

    def row_of(self, position: int) -> int:
        """The row that holds ``position`` (the same number unless only some rows were recorded)."""
        if self.positions is None:
            return position
        if position not in self.positions:
            raise IndexError(f"explain: position {position} was not recorded in this row chunk")
        return self.positions.index(position)

    @property
    def nbytes(self) -> int:
        tensors = [*self.embeddings.values(), *self.z, *self.mlp]
        return sum(int(t.numel()) * t.element_size() for t in tensors if t is not None)

    def restrict(self, keep: Any) -> ResidualRecording:
        """Only the positions ``keep`` (an index tensor): a padded batch row's real tokens."""

        def pick(t: Any) -> Any:
            if t is None:
                return None
            if isinstance(t, tuple):
                return tuple(pick(x) for x in t)
            return t.index_select(0, keep)

        def picks(ts: list[Any]) -> list[Any]:
            return [pick(t) for t in ts]

        return ResidualRecording(
            self.structure,
            {k: pick(v) for k, v in self.embeddings.items()},
            pick(self.embed_norm),
            picks(self.attn_norm),
            picks(self.q_norm),
            picks(self.k_norm),
            picks(self.z),
            picks(self.attn_out_norm),
            picks(self.mlp),
            picks(self.after_attn),
            picks(self.after_mlp),
            picks(self.rotary),
            pick(self.final_norm),
        )


def _first_tensor(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    return args[0] if args else kwargs[name]


@contextmanager
def recording_residuals(structure: Structure, example: int, rows: Any = None) -> Iterator[ResidualRecording]:
    """Within the body, the model's forward pass fills a ``ResidualRecording`` for batch row
    ``example`` (only the sequence positions ``rows``, an index tensor, if given); the hooks are
    removed afterwards, and a part that was not seen is an error."""
    n_layers = len(structure.layers)
    rec = ResidualRecording(structure)
    for name in ("attn_norm", "q_norm", "k_norm", "z", "attn_out_norm", "mlp", "after_attn", "after_mlp", "rotary"):
        setattr(rec, name, [None] * n_layers)
    handles: list[Any] = []

    def row(t: Any) -> Any:
        kept = t[example if t.shape[0] > 1 else 0].detach()
        return kept if rows is None else kept.index_select(0, rows.to(kept.device))

    def keep_output(component: str) -> Any:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            rec.embeddings[component] = row(output).float().cpu()

        return hook

    def keep_scale(norm: Norm, slot: str, layer: int | None) -> Any:
        def hook(_module: Any, args: tuple[Any, ...]) -> None:
            scale = norm.scale_of(row(args[0])).cpu()
            if layer is None:
                setattr(rec, slot, scale)
            else:
                getattr(rec, slot)[layer] = scale

        return hook

    for component, module in structure.embeddings:
        if structure.embed_from_layer_input and component == "embed":

            def first_input(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                rec.embeddings["embed"] = row(_first_tensor(args, kwargs, "hidden_states")).float().cpu()

            handles.append(module.register_forward_pre_hook(first_input, with_kwargs=True))
        else:
            handles.append(module.register_forward_hook(keep_output(component)))
    if structure.embed_norm is not None:
        handles.append(
            structure.embed_norm.module.register_forward_pre_hook(keep_scale(structure.embed_norm, "embed_norm", None))
        )
    if structure.final_norm is not None:
        handles.append(
            structure.final_norm.module.register_forward_pre_hook(keep_scale(structure.final_norm, "final_norm", None))
        )
    for layer, parts in enumerate(structure.layers):
        for slot in ("attn_norm", "q_norm", "k_norm", "attn_out_norm", "after_attn", "after_mlp"):
            norm = getattr(parts, slot)
            if norm is not None:
                handles.append(norm.module.register_forward_pre_hook(keep_scale(norm, slot, layer)))
        handles.append(parts.o_proj.register_forward_pre_hook(_keep_z(rec, layer, parts.n_heads, row)))
        handles.append(parts.mlp_out.register_forward_hook(_keep_mlp(rec, layer, row)))
        if parts.rotary is not None:
            handles.append(parts.attention.register_forward_pre_hook(_keep_rotary(rec, layer, row), with_kwargs=True))
    try:
        yield rec
    finally:
        for handle in handles:
            handle.remove()
    _check_complete(rec)


def _keep_z(rec: ResidualRecording, layer: int, n_heads: int, row: Any) -> Any:
    def hook(_module: Any, args: tuple[Any, ...]) -> None:
        z = row(args[0]).float().cpu()
        rec.z[layer] = z.reshape(int(z.shape[0]), n_heads, -1)

    return hook


def _keep_mlp(rec: ResidualRecording, layer: int, row: Any) -> Any:
    def hook(_module: Any, _args: Any, output: Any) -> None:
        rec.mlp[layer] = row(output[0] if isinstance(output, tuple) else output).float().cpu()

    return hook


def _keep_rotary(rec: ResidualRecording, layer: int, row: Any) -> Any:
    def hook(_module: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        cos, sin = kwargs["position_embeddings"]
        rec.rotary[layer] = (row(cos).double().cpu(), row(sin).double().cpu())

    return hook


def _check_complete(rec: ResidualRecording) -> None:
    s = rec.structure
    missing = [name for name, _ in s.embeddings if name not in rec.embeddings]
    for layer, parts in enumerate(s.layers):
        wanted = {
            "z": True,
            "mlp": True,
            "rotary": parts.rotary is not None,
            **{
                slot: getattr(parts, slot) is not None
                for slot in ("attn_norm", "q_norm", "k_norm", "attn_out_norm", "after_attn", "after_mlp")
            },
        }
        missing += [f"layer {layer} {slot}" for slot, want in wanted.items() if want and getattr(rec, slot)[layer] is None]
    if s.final_norm is not None and rec.final_norm is None:
        missing.append("the final norm")
    if missing:
        raise RuntimeError(
            f"explain: the recording pass did not see {', '.join(missing[:5])}: the model ran differently than its family's structure says"
        )
