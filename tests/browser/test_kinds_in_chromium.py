"""Encoder-decoder captures in real Chromium: the kind control switches between encoder, decoder
and cross-attention, the cross heatmap is decoder tokens x encoder tokens, and its tooltips carry
the numbers Python computed; generated tokens are marked."""

from __future__ import annotations

import re

import pytest

from attn_widget import AttentionWidget, capture
from tests.support.models import tiny_family
from tests.support.widget_page import cell_center, kernel_synced, tooltip_text

ENCODER_TEXT = "A child painted a picture of a horse."
DECODER_TEXT = "horse"


@pytest.fixture(scope="module")
def bart_capture():
    model, tokenizer = tiny_family("bart")
    return capture(model, tokenizer, ENCODER_TEXT, decoder_text=DECODER_TEXT)


def weight_in(text: str) -> str:
    match = re.search(r"weight (\S+)(?: · rank (\d+) of (\d+))?", text)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("eager", [True, False], ids=["all-heads-up-front", "heads-on-request"])
def test_kind_control_switches_to_a_non_square_cross_attention_heatmap(page, mount, bart_capture, eager):
    w = AttentionWidget.from_capture(bart_capture, layer=1, head=1, eager_bytes=10**9 if eager else 0)
    mount(w)
    kind = page.locator("[data-testid=attn-kind]")
    assert kind.is_visible()
    assert kind.locator("option").all_text_contents() == [
        "encoder self-attention",
        "decoder self-attention",
        "cross-attention (decoder queries, encoder keys)",
    ]
    kind.select_option("cross")
    kernel_synced(page)  # Python took the kind, and its answer (new tokens, grid, head) is in the page
    assert w.kind == "cross"
    heatmap = page.locator("[data-testid=attn-heatmap]")
    n_dec, n_enc = len(w.query_tokens), len(w.tokens)
    assert n_dec != n_enc
    heatmap.and_(page.locator(f"[data-rows='{n_dec}'][data-cols='{n_enc}']")).wait_for(state="attached")
    page.locator("[data-head-shown='1,1']").wait_for(state="attached")
    plot = [float(v) for v in heatmap.get_attribute("data-plot").split(",")]
    assert plot[2] > plot[3]  # wider than tall: more encoder keys than decoder queries
    a = w.capture.attention(1, 1, "cross")
    for q, k in [(0, 0), (n_dec - 1, n_enc - 1), (1, 5)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        text = tooltip_text(page)
        assert f'query {q} "{w.query_tokens[q]}"' in text and f'key {k} "{w.tokens[k]}"' in text, text
        assert weight_in(text) == format(float(a[q, k]), ".3g"), text
        assert f"of {n_enc} in row" in text
    assert "cross-attention" in page.locator(".attn-title").text_content()


def test_generated_tokens_are_marked_in_the_tooltip(page, mount):
    model, tokenizer = tiny_family("gpt2")
    w = AttentionWidget.from_generate(model, tokenizer, "A child painted", max_new_tokens=3)
    mount(w)
    assert not page.locator("[data-testid=attn-kind]").is_visible()  # one kind: no control
    assert not page.locator("[data-testid=attn-quantity]").is_visible()  # no saliency: no saliency toolbar
    assert not page.locator("[data-testid=attn-target]").is_visible()
    n = w.n_tokens
    page.mouse.move(*cell_center(page, "attn-heatmap", n - 1, 0))
    text = tooltip_text(page)
    assert f'query {n - 1} "{w.tokens[n - 1]}" (generated)' in text, text
    assert "(generated)" not in text.split("\n")[1]  # key 0 is part of the prompt
