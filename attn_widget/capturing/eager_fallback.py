"""The capture of a family that computes attention its own way (DeBERTa-v2's disentangled
attention, MPNet's and Bloom's own attention modules: they never call transformers'
AttentionInterface, so no queries and keys can be recorded). The model runs once more with
``output_attentions=True`` and its own weights are kept as arrays: exact, never approximated, but
held whole (layers x heads x N x N float32), so such a family has no long-input path; the memory
check refuses an input whose arrays would not fit, before the pass runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .memory import check_arrays_fit

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def no_long_input_note(model: Any) -> str:
    """What the widget and ``Capture.note`` say about such a capture."""
    return (
        f"{type(model).__name__} computes attention its own way: its weights were kept whole from one eager "
        "output_attentions=True pass (exact), so this family has no long-input path"
    )


def eager_weights(model: PreTrainedModel, inputs: dict[str, Any], extra: dict[str, Any], example: int) -> dict[str, np.ndarray]:
    """{kind: float32 (L, H, Nq, Nk)} of batch row ``example`` from the model's own attentions."""
    import torch

    n_tokens = int(inputs["input_ids"].shape[1])
    decoder = inputs.get("decoder_input_ids")
    check_arrays_fit(model, n_tokens, None if decoder is None else int(decoder.shape[1]), int(inputs["input_ids"].shape[0]))
    was_training = bool(model.training)
    model.eval()
    try:
        with torch.no_grad():
            out = model(**inputs, **extra, output_attentions=True)
    finally:
        model.train(was_training)
    if getattr(model.config, "is_encoder_decoder", False):
        parts = {"encoder": out.encoder_attentions, "decoder": out.decoder_attentions, "cross": out.cross_attentions}
    else:
        parts = {"self": getattr(out, "attentions", None)}
    weights: dict[str, np.ndarray] = {}
    for kind, layers in parts.items():
        if not layers or any(a is None for a in layers):
            raise RuntimeError(
                f"{type(model).__name__} made no attention calls through transformers' AttentionInterface and returns "
                f"no {kind} attention weights with output_attentions=True; this architecture cannot be captured"
            )
        weights[kind] = np.stack([a[example].detach().float().cpu().numpy() for a in layers])
    return weights
