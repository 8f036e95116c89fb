"""What a widget leaves in a saved notebook: a small static picture (image/png) next to its view, on
the page's colours, for readers without JavaScript; and, with ``keep_in_notebook``, the heads a lazy
widget's offline page needs."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from ipywidgets.embed import embed_data

from attn_widget import AttentionWidget
from attn_widget.export.colormap import colours, lut_indices
from attn_widget.export.page import PageTooLarge
from attn_widget.export.saved_widgets import saved_models, saved_page
from attn_widget.wire.dec3 import decode_dec3, encode_dec3
from tests.support.arrays import softmax_attention

Image = pytest.importorskip("PIL.Image")
PNG_BUDGET = 150 * 1000
VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def picture(w: AttentionWidget) -> tuple[bytes, Any]:
    data, _ = w._repr_mimebundle_()
    assert data[VIEW_MIME]["model_id"] == w.model_id  # hosts that draw widgets still get the widget
    png = base64.b64decode(data["image/png"])
    image = Image.open(io.BytesIO(png))
    return png, np.asarray(image.convert("RGB"))


def colour_set(rgb: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in p) for p in rgb.reshape(-1, 3)}


def test_each_output_carries_a_small_picture_of_the_grid_and_head_in_the_pages_colours() -> None:
    a = softmax_attention(layers=2, heads=3, n=8, seed=5, causal=True)
    w = AttentionWidget(a, [f"t{i}" for i in range(8)], layer=1, head=2)
    png, pixels = picture(w)
    assert len(png) <= PNG_BUDGET
    shown = colour_set(pixels)
    head = a[1, 2]
    weights = colours(head, 0.0, float(head.max()))  # the heatmap's scale: 0 to the head's peak
    assert colour_set(weights) <= shown, "a weight of the selected head is missing from the overview"
    grid = w._grid_scores
    values = decode_dec3(np.frombuffer(grid["data"], dtype="<u2")).astype(np.float64)
    assert colour_set(colours(values, values.min(), values.max())) <= shown, "a head's grid colour is missing"


def test_the_python_colour_index_is_the_pages() -> None:
    # the same values and indices as tests/js/python_colormap.test.ts checks on ColorScale.index
    values = np.array([0, 0.5, 1, np.nan, -1, 2, 0.999])
    assert lut_indices(values, 0.0, 1.0).tolist() == [0, 128, 255, 0, 0, 255, 255]


def test_the_picture_of_a_long_lazy_input_stays_small() -> None:
    n = 1024
    w = AttentionWidget(softmax_attention(layers=2, heads=2, n=n, seed=1), [f"t{i}" for i in range(n)], eager_bytes=0)
    png, pixels = picture(w)
    assert len(png) <= PNG_BUDGET, f"{len(png)} bytes"
    assert pixels.shape[1] <= 1000 and pixels.shape[0] <= 700  # pooled, not one pixel a weight


def saved_state(w: AttentionWidget) -> dict[str, Any]:
    """``w``'s state as a notebook saves it (JSON with base64 buffers), read back."""
    manager_state = embed_data(views=[w], drop_defaults=False)["manager_state"]  # every trait, as JupyterLab saves
    return saved_models({"widgets": {"application/vnd.jupyter.widget-state+json": manager_state}})[w.model_id]["state"]


def test_a_lazy_widget_keeps_the_heads_it_is_asked_to_keep_for_its_notebook_page() -> None:
    a = softmax_attention(layers=2, heads=3, n=8, seed=6)
    w = AttentionWidget(a, [f"t{i}" for i in range(8)], eager_bytes=0)
    assert not w.eager
    before = saved_page(saved_state(w))
    assert before.data["heads"]["included"] == [] and "none of the 6 heads" in before.holds

    assert w.keep_in_notebook(heads=[(1, 0), (0, 1)]) == 2 * 8 * 8 * 2
    kept = saved_page(saved_state(w))
    assert kept.holds == "2 of 6 heads (kept with w.keep_in_notebook)"
    heads = kept.data["heads"]
    assert heads["included"] == [[1, 0], [0, 1]]
    codes = np.frombuffer(base64.b64decode(heads["quantities"]["attention"]["data"]["$b64"]), dtype="<u2")
    np.testing.assert_array_equal(codes, encode_dec3(np.stack([a[1, 0], a[0, 1]])).ravel())  # the tooltips' numbers
    assert "_notebook_page" not in kept.data["state"]  # the heads are held once

    with pytest.raises(PageTooLarge, match=r"at most 1 fit"):
        w.keep_in_notebook("all", max_bytes=2 * 8 * 8 + 1)
    w.keep_in_notebook(heads=[])
    assert w._notebook_page == {}


def test_an_eager_widget_page_holds_every_head_from_its_state_alone() -> None:
    a = softmax_attention(layers=2, heads=3, n=5, seed=7)
    page = saved_page(saved_state(AttentionWidget(a, [f"t{i}" for i in range(5)])))
    assert page.holds == "all 6 heads"
    codes = np.frombuffer(base64.b64decode(page.data["heads"]["quantities"]["attention"]["data"]["$b64"]), dtype="<u2")
    np.testing.assert_array_equal(codes, encode_dec3(a.reshape(6, 5, 5)).ravel())
