"""Families whose weights are not a plain softmax, in real Chromium: a gpt-oss head's sink takes a
share of every row, and the heatmap's tooltip says how much (the number Python computed), whether
every head came up front or tiles come on request; a family that computes attention its own way
says in the status line that it has no long-input path."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget, capture
from tests.support.families import tiny_family_model
from tests.support.widget_page import cell_center, tooltip_text

TEXT = "The cat sat on the mat because it was tired."


@pytest.fixture(scope="module")
def sink_capture():
    model, tokenizer = tiny_family_model("gpt_oss")
    with torch.no_grad():
        model.model.layers[1].self_attn.sinks.fill_(1.5)  # a sink that takes a visible share
    return capture(model, tokenizer, TEXT)


@pytest.mark.parametrize("eager", [True, False], ids=["all-heads-up-front", "heads-on-request"])
def test_the_tooltip_says_what_share_of_the_row_the_sink_takes(page, mount, sink_capture, eager):
    w = AttentionWidget.from_capture(sink_capture, layer=1, head=2, eager_bytes=10**9 if eager else 0)
    mount(w)
    page.locator("[data-head-shown='1,2']").wait_for(state="attached")
    weights = sink_capture.attention(1, 2)
    for q, k in [(0, 0), (5, 3), (len(w.tokens) - 1, 1)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        text = tooltip_text(page)
        match = re.search(r"sink takes (\S+) of this row", text)
        assert match, text
        share = 1.0 - float(weights[q].sum(dtype=np.float64))
        assert abs(float(match.group(1)) - share) <= 0.0051 * share, text  # dec3: 3 significant digits
        assert match.group(1) == format(float(np.float32(share)), ".3g") or abs(float(match.group(1)) - share) < 1e-3


def test_a_family_without_the_attention_interface_says_it_has_no_long_input_path(page, mount):
    model, tokenizer = tiny_family_model("deberta_v2")
    w = AttentionWidget.from_model(model, tokenizer, TEXT)
    mount(w)
    status = page.locator(".attn-status")
    assert "no long-input path" in status.text_content()
    page.mouse.move(*cell_center(page, "attn-heatmap", 1, 2))
    assert "sink takes" not in tooltip_text(page)
