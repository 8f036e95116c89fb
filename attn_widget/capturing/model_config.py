"""What a model's config and parameters say about it: how many layers, how many positions, which
device. Read by the capture, its memory check and the saliency methods; imports nothing of ours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def position_limit(config: Any) -> int | None:
    """The most positions the model accepts, when its config says (its language model's)."""
    config = text_config(config)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return None if limit is None else int(limit)


def decoder_start_token(config: Any, model: Any = None) -> int | None:
    """The token an encoder-decoder's decoder starts from. transformers v5 keeps generation
    settings in ``model.generation_config`` (a checkpoint saved by v5 has it in
    generation_config.json only); older checkpoints still carry it in config.json."""
    for where in (config, getattr(model, "generation_config", None), getattr(config, "decoder", None)):
        start = getattr(where, "decoder_start_token_id", None)
        if isinstance(start, (list, tuple)):
            start = start[0] if start else None
        if start is not None:
            return int(start)
    return None


def device_of(model: PreTrainedModel) -> Any:
    return next(model.parameters()).device


def layer_count(config: Any, kind: str = "self") -> int | None:
    """How many attention layers of ``kind`` the config declares (None if it does not say).

    ``vision``: the vision tower's (``vision_config``, or the config of a vision-only model);
    ``self`` and ``cross`` of a vision-language model: its language model's (Mllama's
    cross-attention layers take the place of self-attention layers)."""
    if kind == "vision":
        return vision_layer_count(getattr(config, "vision_config", None) or config)
    if getattr(config, "is_encoder_decoder", False):
        names = ("encoder_layers", "num_layers") if kind == "encoder" else ("decoder_layers", "num_decoder_layers")
        return _first_int(config, names)
    text = text_config(config)
    cross = len(getattr(text, "cross_attention_layers", None) or ())
    if kind == "cross":
        return cross or None
    total = _first_int(text, ("num_hidden_layers", "n_layer", "num_layers"))
    return None if total is None else total - cross


def vision_layer_count(vision: Any) -> int | None:
    """A vision tower's attention layers (Qwen2-VL calls them ``depth``; Mllama adds a global stack)."""
    total = _first_int(vision, ("num_hidden_layers", "depth", "num_layers"))
    if total is None:
        return None
    return total + int(getattr(vision, "num_global_layers", 0) or 0)


def text_config(config: Any) -> Any:
    """The language model's config (the config itself for a text model)."""
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


def _first_int(config: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None
