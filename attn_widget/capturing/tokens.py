"""Readable token labels from a Hugging Face tokenizer, and checks on labels users pass in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Whitespace a label must show rather than swallow.
_VISIBLE = str.maketrans({"\n": "⏎", "\t": "⇥", "\r": "␍"})


def readable_tokens(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int]) -> tuple[list[str], list[bool]]:
    """Labels for ``ids`` plus a mask of which are special tokens (kept, and marked in the views).

    Byte-level BPE (GPT-2's ``Ġcat``) and SentencePiece (``▁cat``) pieces are shown as the text they
    stand for without the word-boundary space (``cat``); WordPiece continuations keep their ``##``
    so sub-words stay recognisable; newlines and tabs become visible symbols.
    """
    ids = [int(i) for i in ids]
    raw = tokenizer.convert_ids_to_tokens(ids)
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    labels: list[str] = []
    special: list[bool] = []
    for token_id, piece in zip(ids, raw):
        is_special = token_id in special_ids
        special.append(is_special)
        labels.append(str(piece) if is_special else _piece_label(tokenizer, str(piece)))
    return labels, special


def _piece_label(tokenizer: PreTrainedTokenizerBase, piece: str) -> str:
    if piece.startswith("##"):
        return piece
    try:
        text = tokenizer.convert_tokens_to_string([piece])
    except Exception:  # a tokenizer without a string decoder: the raw piece is still informative
        text = piece
    if "\ufffd" in text:  # a partial UTF-8 byte sequence: the raw piece says more than a box
        text = piece
    shown = text.translate(_VISIBLE).strip(" ")
    if shown:
        return shown
    return "␣" * max(1, len(text))


def check_tokens(tokens: Any, n_tokens: int) -> list[str]:
    """``tokens`` as a list of str, or a ValueError/TypeError naming what was wrong."""
    if isinstance(tokens, str):
        raise TypeError("tokens must be a list of strings (one per position), got a single str")
    try:
        labels = list(tokens)
    except TypeError:
        raise TypeError(f"tokens must be a list of strings, got {type(tokens).__name__}") from None
    for i, t in enumerate(labels):
        if not isinstance(t, str):
            raise TypeError(f"tokens[{i}] must be a str, got {type(t).__name__}: {t!r}")
    if len(labels) != n_tokens:
        raise ValueError(
            f"tokens has {len(labels)} entries but attention has N = {n_tokens} positions "
            "(its last two axes): give one token per position"
        )
    return labels
