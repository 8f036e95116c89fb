"""The induction probe: a random sequence of tokens, repeated once. On the second copy an induction
head attends to the token that followed the current token's first occurrence, so its induction
score there is high, whatever the text a model was trained on (Olsson et al., 2022)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_int
from .model_config import position_limit
from .result import Capture
from .run import capture_ids

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def probe_ids(tokenizer: PreTrainedTokenizerBase, length: int, seed: int) -> list[int]:
    """[bos] + r + r for ``length`` random ordinary (non-special) token ids ``r``, without repeats
    inside ``r`` so every token of the second copy has exactly one earlier copy."""

    check_int("length", length, low=2, meaning="tokens in each copy")
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    ordinary = np.array([i for i in range(len(tokenizer)) if i not in special])
    if len(ordinary) < length:
        raise ValueError(f"length must be at most {len(ordinary)} (the tokenizer's ordinary tokens), got {length}")
    r = np.random.default_rng(seed).choice(ordinary, size=length, replace=False).tolist()
    first = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    return ([int(first)] if first is not None else []) + r + r


def induction_capture(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, length: int, seed: int) -> Capture:
    import torch

    ids = torch.tensor([probe_ids(tokenizer, length, seed)])
    limit = position_limit(getattr(model, "config", None))
    if limit is not None and ids.shape[1] > limit:
        extra = ids.shape[1] - 2 * length
        raise ValueError(
            f"length must be at most {(limit - extra) // 2} for this model (it accepts {limit} positions, "
            f"and the probe is {'a first token and ' if extra else ''}two copies of length tokens), got {length}"
        )
    encoded: dict[str, Any] = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return capture_ids(model, tokenizer, encoded)
