"""Render the README's screenshots in Debian's Chromium: the demo (light and dark themes) and a
512-token input on the packaged model, each with a tooltip showing, the image panel on
scikit-learn's sample photograph and on the trained vision demo. Writes docs/img/*.png.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attn_widget import AttentionWidget  # noqa: E402
from attn_widget.demo import DEMO_TEXT, load_packaged_model  # noqa: E402
from tests.support.chromium import ORIGIN, launch, serve  # noqa: E402
from tests.support.fake_kernel import Bridge, initial_state, use_recording_comms  # noqa: E402
from tests.support.widget_page import cell_center, patch_center, shift_drag_rows  # noqa: E402

OUT = ROOT / "docs" / "img"
PARAGRAPH = (
    "A child painted a picture of a horse, and later said that her favourite animal is the horse. "
    "Attention weights tell us where each token looks, not why the model decided anything; "
    "gradients are only a first-order view of what matters. "
)


def long_text(tokenizer, n_tokens: int) -> str:
    words = (PARAGRAPH * 40).split()
    lo, hi = 1, len(words)
    while lo < hi:  # the longest prefix that tokenizes to at most n_tokens
        mid = (lo + hi + 1) // 2
        if len(tokenizer(" ".join(words[:mid]))["input_ids"]) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def shoot(
    browser,
    widget: AttentionWidget,
    path: pathlib.Path,
    hover: tuple[str, int, int] | Callable[[Any], tuple[float, float]],
    *,
    dark: bool = False,
    width: int = 1180,
    zoom: int = 0,
    live: bool = False,
    before: Callable[[Any], None] | None = None,
) -> None:
    """``live``: Python answers the page (aggregates and comparisons come from the kernel);
    ``before(page)``: what the user does before the hover (a click, a shift-drag)."""
    page = browser.new_page(viewport={"width": width + 40, "height": 1300}, device_scale_factor=1)
    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/harness.html")
    if dark:
        page.evaluate("document.body.classList.add('dark')")
    if live:
        bridge = Bridge(widget)
        page.expose_function("kernel", lambda kind, payload: bridge(kind, payload))
    page.evaluate("([s, w, b]) => window.mount(s, {width: w, bridge: b})", [initial_state(widget), width, live])
    page.wait_for_selector("[data-ready=true]", state="attached")
    if before is not None:
        before(page)
    if callable(hover):  # a point the page decides (a patch of the picture)
        page.mouse.move(*hover(page))
        page.wait_for_selector("[data-testid=attn-tooltip]:not([hidden])")
        page.locator("[data-testid=attn-widget]").screenshot(path=str(path))
        page.close()
        print("wrote", path)
        return
    testid, row, col = hover
    x, y = cell_center(page, testid, row, col)
    if zoom:
        page.mouse.move(x, y)
        for _ in range(zoom):
            page.mouse.wheel(0, -300)
        page.wait_for_timeout(100)
        x, y = cell_center(page, testid, row, col)
    page.mouse.move(x, y)
    page.wait_for_selector("[data-testid=attn-tooltip]:not([hidden])")
    page.locator("[data-testid=attn-widget]").screenshot(path=str(path))
    page.close()
    print("wrote", path)


def image_widget() -> tuple[AttentionWidget, Callable[[Any], tuple[float, float]]]:
    """The image panel on scikit-learn's sample photograph: a tiny ViT (16 x 16 patches of 8
    pixels) with random weights, its query and key weights scaled up fivefold so that attention
    follows what the random features see (similar patches attend to each other) instead of being
    uniform. It illustrates the panel; it is no trained model. The query is a patch of the temple's
    roof; the pointer rests on a patch of the trees below."""
    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    from attn_widget import capture
    from tests.support.vision_models import sample_image

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=128, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    model = ViTModel._from_config(config).eval()
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight")):
                weight.mul_(5.0)
    captured = capture(model, ViTImageProcessorPil(size={"height": 128, "width": 128}), images=sample_image())
    patches = captured.patches("vision")
    roof = captured.kind("vision").keys.tokens.index("<img 0: r4 c4>")
    widget = AttentionWidget.from_capture(captured, layer=0, head=3, query=roof)
    sky = next(p for p in patches if p[0] == captured.kind("vision").keys.tokens.index("<img 0: r13 c1>"))
    return widget, lambda page: patch_center(page, sky)


def vision_demo_widget() -> tuple[AttentionWidget, Callable[[Any], tuple[float, float]]]:
    """The trained vision demo (``vision_widget()``: a held-out scene, the head that grounds colour
    words best, the first colour word's row on the picture); the pointer rests on the patch that
    row weights most."""
    from attn_widget.vision_demo import vision_widget

    widget = vision_widget()
    patches = widget.capture.patches("self")
    row = widget.capture.attention(widget.layer, widget.head, "self")[widget.query, patches[:, 0]]
    top = patches[int(row.argmax())]
    return widget, lambda page: patch_center(page, top)


def picture_drawn(page: Any) -> None:
    page.wait_for_selector("[data-testid=attn-image][data-complete=true]", state="attached")


def main() -> None:
    use_recording_comms()
    only = sys.argv[1:]  # names to render (e.g. cross-attention); all when none
    from attn_widget import capture
    from tests.support.models import tiny_family

    bart, bart_tokenizer = tiny_family("bart")
    cross = AttentionWidget.from_capture(
        capture(bart, bart_tokenizer, "A child painted a picture of a horse.", decoder_text="My favourite animal is the horse"),
        kind="cross",
        layer=1,
        head=1,
    )
    gpt2, gpt2_tokenizer = tiny_family("gpt2")
    generated = AttentionWidget.from_generate(
        gpt2, gpt2_tokenizer, "A child painted a picture of a", max_new_tokens=6, layer=2, head=1
    )
    from attn_widget.grounding import load_grounding_model, spans

    g_model, g_tokenizer = load_grounding_model()
    g_text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
    g_words = g_text.split()
    grounding = AttentionWidget.from_model(
        g_model,
        g_tokenizer,
        g_text,
        saliency=True,
        target="horse",
        spans=spans(g_words) + [("ground", 6, 7)],
        flow_span="ground",
        grid_metric="saliency_flow",
        heatmap_quantity="attention_x_gradient",
        strip_method="attention_x_gradient",
    )
    grounding.layer, grounding.head = divmod(int(grounding.scores().argmax()), grounding.n_heads)
    model, tokenizer = load_packaged_model()
    demo = AttentionWidget.from_model(model, tokenizer, DEMO_TEXT, layer=2, head=9, query=8, key=3)
    long = AttentionWidget.from_model(model, tokenizer, long_text(tokenizer, 512), layer=2, head=9)
    print("512-token input:", long.n_tokens, "tokens")
    detectors = AttentionWidget.from_model(model, tokenizer, DEMO_TEXT, grid_metric="previous_token", layer=1, head=-1)
    compared = AttentionWidget.compare(
        DEMO_TEXT,
        DEMO_TEXT.replace("cat", "dog").replace("tired", "hungry"),
        model=model,
        tokenizer=tokenizer,
        labels=("cat", "dog"),
        layer=2,
        head=9,
    )
    spanned = AttentionWidget.from_model(model, tokenizer, DEMO_TEXT, layer=2, head=9)
    picture, looking = image_widget()
    vision, grounded = vision_demo_widget()

    def shift_drag(page: Any) -> None:  # select queries 1-4 ("the cat sat on")
        shift_drag_rows(page, 1, 4, steps=4)
        page.wait_for_function("() => (window.__inflight ?? 0) === 0")
        page.evaluate("() => window.__views[0].model.pull()")
        page.wait_for_timeout(200)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        shots = {
            "demo": (demo, ("attn-heatmap", 8, 3), {}),
            "demo-dark": (demo, ("attn-grid", 2, 9), {"dark": True}),
            "long-512": (long, ("attn-heatmap", 300, 120), {"live": True}),  # lazy: tiles come from Python
            "long-512-zoomed": (long, ("attn-heatmap", 300, 296), {"zoom": 6, "live": True}),
            "cross-attention": (cross, ("attn-heatmap", 3, 8), {}),
            "generated": (generated, ("attn-heatmap", generated.n_tokens - 1, 4), {}),
            "grounding": (grounding, ("attn-strip", 0, 6), {}),
            "detectors": (detectors, ("attn-heatmap", 5, 4), {"live": True}),
            "compare": (compared, ("attn-heatmap", 5, 2), {"live": True}),
            "query-span": (spanned, ("attn-strip", 0, 8), {"live": True, "before": shift_drag}),
            "image-panel": (picture, looking, {"live": True, "before": picture_drawn, "width": 1240}),
            "vision": (vision, grounded, {"live": True, "before": picture_drawn, "width": 1240}),
        }
        for name, (widget, hover, options) in shots.items():
            if not only or name in only:
                shoot(browser, widget, OUT / f"{name}.png", hover, **options)
        browser.close()


if __name__ == "__main__":
    main()
