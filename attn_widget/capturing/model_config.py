"""What a model's config and parameters say about it: how many layers, how many positions, which
device. Read by the capture, its memory check and the saliency methods; imports nothing of ours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def position_limit(config: Any) -> int | None:
    """The most positions the model accepts, when its config says."""
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return None if limit is None else int(limit)


def device_of(model: PreTrainedModel) -> Any:
    return next(model.parameters()).device


def layer_count(config: Any, kind: str = "self") -> int | None:
    """How many attention layers of ``kind`` the config declares (None if it does not say)."""
    if getattr(config, "is_encoder_decoder", False):
        names = ("encoder_layers", "num_layers") if kind == "encoder" else ("decoder_layers", "num_decoder_layers")
    else:
        names = ("num_hidden_layers", "n_layer", "num_layers")
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None
