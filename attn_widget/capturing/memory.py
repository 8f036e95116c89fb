"""Refuse a capture that would not fit in memory before its forward pass runs, with the size it
would need: at 131,072 tokens a forward pass takes minutes, and running out of memory at the end of
it (or taking the machine down with the kernel) is the worst way to learn the answer.

The estimate reads the model's config: the queries and keys the capture keeps (exact for the usual
config fields, see ``kept_bytes``), plus what the forward pass itself holds for a moment (hidden
states and the MLP's intermediate activations, a rough upper estimate). Configs that do not name
their head counts and widths are not checked. With images, the vision tower's positions count too
(``vision_need``): its queries and keys, the block mask that keeps images or tiles apart, and its
activations; the language model's side is read from its own config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model_config import layer_count, text_config, vision_layer_count

if TYPE_CHECKING:
    from transformers import PreTrainedModel

# Hidden-state-sized tensors alive at once during a layer's forward (residual, normed input, q, k,
# v, attention output, and the allocator's slack), and intermediate-sized ones (the MLP's up and
# gate projections).
HIDDEN_COPIES = 8
INTERMEDIATE_COPIES = 3


@dataclass(frozen=True)
class CaptureNeed:
    kept: int  # queries and keys the capture keeps, bytes
    transient: int  # the forward pass's activations, bytes (freed when it ends)

    @property
    def total(self) -> int:
        return self.kept + self.transient

    def __add__(self, other: CaptureNeed) -> CaptureNeed:
        # the towers run one after the other: what is kept adds up, the larger transient counts
        return CaptureNeed(self.kept + other.kept, max(self.transient, other.transient))


def _first(config: Any, *names: str) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _attention_shape(config: Any, side: str) -> tuple[int, int, int] | None:
    """(query heads, key heads, head dim) of ``side`` ("encoder", "decoder" or "self")."""
    heads = _first(config, f"{side}_attention_heads", "num_attention_heads", "n_head", "num_heads")
    width = _first(config, "hidden_size", "n_embd", "d_model")
    if heads is None or width is None:
        return None
    kv = _first(config, "num_key_value_heads") or heads
    dim = _first(config, "head_dim", "d_kv") or width // heads
    return heads, kv, dim


def kept_bytes(config: Any, n_tokens: int, element_size: int, n_decoder_tokens: int | None = None) -> int | None:
    """Bytes of the queries and keys a capture of ``n_tokens`` keeps (None: the config does not say).

    Per attention layer: queries (heads x Nq x d) and keys (key heads x Nk x d) in the model's dtype.
    """

    if not getattr(config, "is_encoder_decoder", False):
        shape, layers = _attention_shape(config, "self"), layer_count(config, "self")
        if shape is None or layers is None:
            return None
        heads, kv, dim = shape
        return layers * n_tokens * (heads + kv) * dim * element_size
    enc, dec = _attention_shape(config, "encoder"), _attention_shape(config, "decoder")
    n_enc, n_dec = layer_count(config, "encoder"), layer_count(config, "decoder")
    if enc is None or dec is None or n_enc is None or n_dec is None:
        return None
    nd = n_decoder_tokens or n_tokens
    per_layer = (
        n_tokens * (enc[0] + enc[1]) * enc[2],  # encoder self-attention
        nd * (dec[0] + dec[1]) * dec[2],  # decoder self-attention
        nd * dec[0] * dec[2] + n_tokens * dec[1] * dec[2],  # cross: decoder queries, encoder keys
    )
    return (n_enc * per_layer[0] + n_dec * (per_layer[1] + per_layer[2])) * element_size


def capture_need(config: Any, n_tokens: int, element_size: int, n_decoder_tokens: int | None = None) -> CaptureNeed | None:
    kept = kept_bytes(config, n_tokens, element_size, n_decoder_tokens)
    width = _first(config, "hidden_size", "n_embd", "d_model")
    if kept is None or width is None:
        return None
    inner = _first(config, "intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim") or 4 * width
    n = max(n_tokens, n_decoder_tokens or 0)
    transient = n * (HIDDEN_COPIES * width + INTERMEDIATE_COPIES * inner) * element_size
    return CaptureNeed(kept, transient)


def vision_need(config: Any, sequences: Sequence[int], element_size: int) -> CaptureNeed | None:
    """What a capture keeps of a vision tower that sees ``sequences`` (positions per image or
    tile), and what its forward pass holds for a moment; None when the config does not say."""
    vision = getattr(config, "vision_config", None) or config
    heads = _first(vision, "num_attention_heads", "num_heads")
    width = _first(vision, "embed_dim", "hidden_size")  # Qwen2-VL's hidden_size is its merger's output
    layers = vision_layer_count(vision)
    if heads is None or width is None or layers is None or not sequences:
        return None
    kv = _first(vision, "num_key_value_heads") or heads
    dim = _first(vision, "head_dim") or width // heads
    n = sum(sequences)
    kept = layers * n * (heads + kv) * dim * element_size
    if len(sequences) > 1:
        kept += n * n  # the block-diagonal bool mask that keeps the sequences apart, shared by the layers
    inner = _first(vision, "intermediate_size") or (_first(vision, "mlp_ratio") or 4) * width
    transient = n * (HIDDEN_COPIES * width + INTERMEDIATE_COPIES * inner) * element_size
    return CaptureNeed(kept, transient)


def available_bytes(device: Any) -> int | None:
    """Memory a capture may still use on ``device`` (None: unknown, then nothing is checked)."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    if kind == "cpu":
        try:
            with open("/proc/meminfo") as f:
                info = dict(line.split(":", 1) for line in f)
            return int(info["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            return None
    return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_capture_fits(
    model: PreTrainedModel, n_tokens: int, n_decoder_tokens: int | None = None, vision_tokens: Sequence[int] = ()
) -> None:
    """Raise MemoryError, naming the sizes, when the capture would not fit on the model's device.

    ``vision_tokens``: the vision tower's positions per image or tile, when there are images.
    Models split across devices by accelerate (``hf_device_map``) are not checked: their layers'
    queries and keys land on each layer's own device."""
    device_map = getattr(model, "hf_device_map", None)
    if device_map and len(set(map(str, device_map.values()))) > 1:
        return
    param = next(model.parameters())
    config = getattr(model, "config", None)
    size = param.element_size()
    need = capture_need(text_config(config), n_tokens, size, n_decoder_tokens) if n_tokens else None
    if vision_tokens:
        seen = vision_need(config, vision_tokens, size)
        need = seen if need is None else need if seen is None else need + seen
    free = available_bytes(param.device)
    if need is None or free is None or need.total <= free:
        return
    what = f"{n_tokens} tokens" if not vision_tokens else f"{n_tokens} text tokens and {sum(vision_tokens)} vision positions"
    raise MemoryError(
        f"capturing {what} would need about {_gib(need.total)} on {param.device} "
        f"({_gib(need.kept)} of queries and keys kept, about {_gib(need.transient)} more during the "
        f"forward pass) but {_gib(free)} is available; use {'fewer or smaller images, ' if vision_tokens else ''}"
        "a shorter text, or a device with more memory"
    )


def check_arrays_fit(model: PreTrainedModel, n_tokens: int, n_decoder_tokens: int | None = None, batch: int = 1) -> None:
    """Raise MemoryError, with the sizes, when keeping every head's weights whole would not fit: a
    family that computes attention its own way (eager_fallback.py) returns layers x heads x N x N
    weights in the model's dtype for the batch, of which the capture keeps one example in float32."""
    config = text_config(getattr(model, "config", None))
    param = next(model.parameters())
    free = available_bytes(param.device)
    shape = _attention_shape(config, "encoder" if getattr(config, "is_encoder_decoder", False) else "self")
    if shape is None or free is None:
        return
    heads = shape[0]
    if getattr(config, "is_encoder_decoder", False):
        nd = n_decoder_tokens or n_tokens
        n_enc, n_dec = layer_count(config, "encoder") or 0, layer_count(config, "decoder") or 0
        cells = n_enc * n_tokens**2 + n_dec * (nd**2 + nd * n_tokens)
    else:
        cells = (layer_count(config, "self") or 0) * n_tokens**2
    need = heads * cells * (batch * param.element_size() + 4)
    if need <= free:
        return
    raise MemoryError(
        f"{type(model).__name__} computes attention its own way, so its capture keeps every head's weights whole "
        f"(this family has no long-input path): {n_tokens} tokens would need about {_gib(need)} on {param.device} "
        f"but {_gib(free)} is available; use a shorter text"
    )
