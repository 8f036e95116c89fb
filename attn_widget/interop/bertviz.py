"""bertviz's ``head_view`` and ``model_view`` with bertviz's arguments and meanings, so a bertviz
notebook switches with one import: ``from attn_widget import head_view, model_view``.

Both draw the same widget (a layer x head grid linked to the selected head's heatmap): bertviz's
two views differ in layout, and this widget shows every head and one head at once. How each
bertviz argument maps:

- ``attention``, ``tokens``: as in bertviz (a tuple of per-layer ``(1, H, N, N)`` tensors).
- ``sentence_b_start``: the two sentences become named spans "A" and "B" (brackets under the
  keys), bertviz's sentence filter.
- ``prettify_tokens``: BPE markers (``Ġ``, ``▁``) become spaces, ``Ċ`` a newline mark, as bertviz does.
- ``layer``, ``heads``: the head selected first (the first of ``heads``; the others are left
  out with a warning: the widget selects one head at a time, and the grid shows them all).
- ``include_layers``, ``include_heads``: keep only those; the grid numbers what is kept from 0
  (a warning says so when that renumbers anything).
- ``encoder_attention``, ``decoder_attention``, ``cross_attention`` with ``encoder_tokens``,
  ``decoder_tokens``: an encoder-decoder's three kinds, switched with the widget's kind control.
- ``display_mode``: ignored with a warning (the widget follows the notebook's light or dark theme).
- ``html_action``: ``"view"`` displays the widget and returns None, as bertviz; ``"return"``
  returns what bertviz returns, an ``IPython.display.HTML`` whose ``.data`` is a whole page, so
  bertviz's ``open("head_view.html", "w").write(head_view(..., html_action="return").data)``
  writes a file: ours is the widget's offline page (``w.to_html``'s, every head while it stays
  under 50 MB, else the selected layer's or head's, with a warning). The widget is one attribute
  away: ``head_view(..., html_action="return").widget`` (``w.layer``, ``w.save(...)``,
  ``w.to_html(...)``), and displaying the returned object shows the widget.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import is_int
from ..capturing.arrays import normalize_attention
from ..capturing.result import ArrayKind, Axis, Capture
from ..capturing.tokens import check_tokens
from ..widget.attention_widget import AttentionWidget
from .returned_page import ReturnedPage

_PRETTY = {"Ġ": " ", "▁": " ", "Ċ": "\\n", "ĉ": "\\t"}


def _prettify(tokens: Sequence[str]) -> list[str]:
    out = []
    for t in tokens:
        for marker, text in _PRETTY.items():
            t = t.replace(marker, text)
        out.append(t)
    return out


def _pick(array: np.ndarray, axis: int, keep: Sequence[int] | None, name: str) -> np.ndarray:
    if keep is None:
        return array
    size = array.shape[axis]
    chosen = list(keep)
    bad = [i for i in chosen if not is_int(i) or not 0 <= i < size]
    if not chosen or bad:
        raise ValueError(f"{name} must be a non-empty list of indices in [0, {size - 1}], got {keep!r}")
    if chosen != list(range(len(chosen))):
        what = name.split("_")[1]  # "layers" or "heads"
        warnings.warn(
            f"{name}={chosen}: the grid numbers the kept {what} 0..{len(chosen) - 1} (its {what[:-1]} i is {name}[i])",
            UserWarning,
            stacklevel=4,
        )
    return np.take(array, chosen, axis=axis)


def _capture(
    attention: Any,
    tokens: Any,
    encoder_attention: Any,
    decoder_attention: Any,
    cross_attention: Any,
    encoder_tokens: Any,
    decoder_tokens: Any,
    include_layers: Sequence[int] | None,
    include_heads: Sequence[int] | None,
    prettify_tokens: bool,
) -> Capture:
    def prepared(att: Any, name: str, square: bool = True) -> np.ndarray:
        try:
            array = normalize_attention(att, square=square)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        return _pick(_pick(array, 0, include_layers, "include_layers"), 1, include_heads, "include_heads")

    def axis(toks: Any, n: int, name: str) -> Axis:
        if toks is None:
            raise ValueError(f"{name} is required with this attention: one token per position ({n})")
        labels = check_tokens(toks, n)
        return Axis.of(_prettify(labels) if prettify_tokens else labels)

    if attention is not None:
        if any(a is not None for a in (encoder_attention, decoder_attention, cross_attention)):
            raise ValueError("pass either attention (one model's self-attention) or encoder_/decoder_/cross_attention, not both")
        array = prepared(attention, "attention")
        keys = axis(tokens, array.shape[-1], "tokens")
        return Capture([ArrayKind("self", array, keys, keys)])
    if encoder_attention is None and decoder_attention is None:
        raise ValueError("attention is required: the tuple of per-layer (batch, heads, N, N) tensors a model returns")
    if tokens is not None:
        raise ValueError("with encoder_/decoder_attention, name the tokens encoder_tokens= and decoder_tokens=")
    kinds = []
    enc = dec = None
    if encoder_attention is not None:
        array = prepared(encoder_attention, "encoder_attention")
        enc = axis(encoder_tokens, array.shape[-1], "encoder_tokens")
        kinds.append(ArrayKind("encoder", array, enc, enc))
    if decoder_attention is not None:
        array = prepared(decoder_attention, "decoder_attention")
        dec = axis(decoder_tokens, array.shape[-1], "decoder_tokens")
        kinds.append(ArrayKind("decoder", array, dec, dec))
    if cross_attention is not None:
        array = prepared(cross_attention, "cross_attention", square=False)
        queries = dec if dec is not None else axis(decoder_tokens, array.shape[-2], "decoder_tokens")
        keys = enc if enc is not None else axis(encoder_tokens, array.shape[-1], "encoder_tokens")
        if array.shape[-2:] != (len(queries.tokens), len(keys.tokens)):
            raise ValueError(
                f"cross_attention has shape {array.shape[-2:]} (decoder x encoder positions), but there are "
                f"{len(queries.tokens)} decoder and {len(keys.tokens)} encoder tokens"
            )
        kinds.append(ArrayKind("cross", array, queries, keys))
    return Capture(kinds)


def _show(widget: AttentionWidget, html_action: str) -> ReturnedPage | None:
    if html_action == "return":
        return ReturnedPage(widget)
    if html_action != "view":
        raise ValueError(f"html_action must be 'view' or 'return', got {html_action!r}")
    from IPython.display import display

    display(widget)
    return None


def _spans(sentence_b_start: Any, n: int) -> list[tuple[str, int, int]]:
    if sentence_b_start is None:
        return []
    if not is_int(sentence_b_start) or not 0 < sentence_b_start < n:
        raise ValueError(f"sentence_b_start must be an int in [1, {n - 1}] (where sentence B starts), got {sentence_b_start!r}")
    return [("A", 0, int(sentence_b_start)), ("B", int(sentence_b_start), n)]


def head_view(
    attention: Any = None,
    tokens: Sequence[str] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    encoder_attention: Any = None,
    decoder_attention: Any = None,
    cross_attention: Any = None,
    encoder_tokens: Sequence[str] | None = None,
    decoder_tokens: Sequence[str] | None = None,
    include_layers: Sequence[int] | None = None,
    html_action: str = "view",
) -> ReturnedPage | None:
    """bertviz's ``head_view``, same arguments and meanings (see this module's docstring).

    ``html_action="return"`` returns an ``IPython.display.HTML`` whose ``.data`` is the widget's
    offline page (write it to a file, as bertviz's README does); its ``.widget`` is the widget.
    """
    captured = _capture(
        attention,
        tokens,
        encoder_attention,
        decoder_attention,
        cross_attention,
        encoder_tokens,
        decoder_tokens,
        include_layers,
        None,
        prettify_tokens,
    )
    head = 0
    if heads is not None:
        chosen = list(heads)
        if not chosen:
            raise ValueError("heads must list at least one head index")
        head = chosen[0]
        if len(chosen) > 1:
            warnings.warn(
                f"heads={chosen}: the widget selects one head at a time (head {head}); the grid shows every head",
                UserWarning,
                stacklevel=2,
            )
    spans = _spans(sentence_b_start, len(captured.tokens))
    widget = AttentionWidget(captured, layer=0 if layer is None else layer, head=head, spans=spans)
    return _show(widget, html_action)


def model_view(
    attention: Any = None,
    tokens: Sequence[str] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    display_mode: str = "dark",
    encoder_attention: Any = None,
    decoder_attention: Any = None,
    cross_attention: Any = None,
    encoder_tokens: Sequence[str] | None = None,
    decoder_tokens: Sequence[str] | None = None,
    include_layers: Sequence[int] | None = None,
    include_heads: Sequence[int] | None = None,
    html_action: str = "view",
) -> ReturnedPage | None:
    """bertviz's ``model_view``, same arguments and meanings (see this module's docstring).

    ``html_action="return"`` returns an ``IPython.display.HTML`` whose ``.data`` is the widget's
    offline page (write it to a file, as bertviz's README does); its ``.widget`` is the widget.
    """
    if display_mode not in ("dark", "light"):
        raise ValueError(f"display_mode must be 'dark' or 'light', got {display_mode!r}")
    if display_mode != "dark":  # bertviz's default says nothing; a choice the widget cannot honour does
        warnings.warn(
            f"display_mode={display_mode!r} is ignored: the widget follows the notebook's light or dark theme",
            UserWarning,
            stacklevel=2,
        )
    captured = _capture(
        attention,
        tokens,
        encoder_attention,
        decoder_attention,
        cross_attention,
        encoder_tokens,
        decoder_tokens,
        include_layers,
        include_heads,
        prettify_tokens,
    )
    spans = _spans(sentence_b_start, len(captured.tokens))
    return _show(AttentionWidget(captured, spans=spans), html_action)
