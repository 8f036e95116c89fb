"""Figure export in real Chromium: ``w.save`` gets its bytes from the displayed view, the SVG is
what the screen shows (cells, colours, token texts) and runs nothing, PNGs have the panel's size
times the scale, and the toolbar's export downloads the same figure."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from attn_widget import AttentionWidget
from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center, save

HOSTILE = "<img src=x onerror=alert(1)>"
TOKENS = ["The", HOSTILE, "cat", "</script>", "sat", "on", "the", "mat", "&amp;", "."]
N = len(TOKENS)
SVG = "{http://www.w3.org/2000/svg}"


def widget(n: int = N, tokens: list[str] | None = None, **kwargs) -> AttentionWidget:
    att = softmax_attention(layers=2, heads=3, n=n, seed=5, causal=True)
    return AttentionWidget(att, tokens or TOKENS, layer=1, head=2, **kwargs)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def viridis_index(value: float, hi: float) -> int:
    """The colour scale's table index (colormap.ts ColorScale.index) for a value shown as dec3."""
    t = float(format(value, ".3g")) / hi
    return 0 if not t > 0 else 255 if t >= 1 else int(np.floor(t * 256))


def hex_rgb(fill: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", fill)
    assert m, fill
    return tuple(int(v) for v in m.groups())  # type: ignore[return-value]


def test_svg_heatmap_is_vector_with_the_widgets_colours_and_escaped_tokens(page, mount, tmp_path):
    from matplotlib import colormaps

    w = widget()
    mount(w)
    path = save(page, w, tmp_path / "heatmap.svg", panel="heatmap")
    text = path.read_text(encoding="utf-8")
    root = ET.fromstring(text)  # well-formed XML: tokens did not break it
    cells = root.find(f".//{SVG}g[@data-part='heatmap-cells']")
    assert cells is not None, "no group of heatmap cells"
    rects = cells.findall(f"{SVG}rect")
    assert len(rects) == N * N, f"{len(rects)} rects for {N} x {N} visible cells"

    # Row-major order (query, key): every fill is the viridis colour of that weight (the table the
    # widget builds from d3's viridis; matplotlib's is the same ramp, within rounding of one unit).
    head = w.attention[1, 2]
    hi = float(head.max())
    ramp = (np.asarray(colormaps["viridis"].colors) * 255).round().astype(int)
    for i, rect in enumerate(rects):
        q, k = divmod(i, N)
        got = np.array(hex_rgb(rect.get("fill")))
        want = ramp[viridis_index(float(head[q, k]), hi)]
        assert np.abs(got - want).max() <= 1, f"cell ({q}, {k}): {rect.get('fill')} vs {want}"

    # ... and the same colour the canvas shows on screen at that cell.
    for q, k in [(0, 0), (5, 2), (9, 9), (9, 0)]:
        x, y = cell_center(page, "attn-heatmap", q, k)
        pixel = page.evaluate(
            # 4 px inside the cell's top left corner: clear of the grid lines and the printed value
            """([x, y]) => { const c = document.querySelector('[data-testid=attn-heatmap]');
                 const b = c.getBoundingClientRect();
                 const [, , pw, ph] = c.dataset.plot.split(',').map(Number);
                 const cw = pw / +c.dataset.cols, ch = ph / +c.dataset.rows;
                 return Array.from(c.getContext('2d').getImageData(Math.round(x - b.x - cw / 2 + 4), Math.round(y - b.y - ch / 2 + 4), 1, 1).data).slice(0, 3); }""",
            [x, y],
        )
        assert tuple(pixel) == hex_rgb(rects[q * N + k].get("fill")), (q, k)

    # Tokens are text (escaped by XML, so the parser gives them back literally), whole in <title>
    # where the label was shortened to fit.
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    for token in TOKENS:
        assert any(token in t for t in texts), f"{token!r} not in the SVG's text"
    assert HOSTILE not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "layer 1 · head 2" in "".join(texts), "the panel's title is missing"
    assert_inert(root, text)


def assert_inert(root: ET.Element, text: str) -> None:
    """No script, no event attribute, no reference outside the file."""
    for el in root.iter():
        tag = el.tag.split("}")[-1].lower()
        assert tag not in ("script", "foreignobject", "iframe", "a"), tag
        for name, value in el.attrib.items():
            local = name.split("}")[-1].lower()
            assert not local.startswith("on"), f"event attribute {name}={value!r}"
            if local == "href":
                assert value.startswith("data:image/png;base64,") or value.startswith("#"), value
    assert "<script" not in text.lower() and "javascript:" not in text.lower()
    assert not re.search(r"(?:href|src)=\"(?:https?:|file:|//)", text)


def test_svg_opened_in_chromium_runs_nothing(page, mount, tmp_path, browser):
    w = widget()
    mount(w)
    path = save(page, w, tmp_path / "all.svg", panel="all")
    context = browser.new_context(offline=True)
    viewer = context.new_page()
    dialogs: list[str] = []
    viewer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    viewer.on("request", lambda r: requests.append(r.url))
    viewer.goto(path.as_uri())  # after the load event: every script and handler in it would have run
    assert dialogs == [], dialogs
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert viewer.locator("text").count() > N  # it renders as an SVG document, with its labels
    # Drawn by the browser, each cell shows its fill (clips and transforms put it in place).
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(viewer.screenshot())).convert("RGB")
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    rects = root.find(f".//{SVG}g[@data-part='heatmap-cells']").findall(f"{SVG}rect")
    for i in (0, 1, N + 1, 4 * N + 2, N * N - 1):
        r = rects[i]
        x, y = float(r.get("x")) + 3, float(r.get("y")) + 3
        assert shot.getpixel((int(x), int(y))) == hex_rgb(r.get("fill")), f"cell {divmod(i, N)} at {x, y}"
    context.close()


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_png_is_the_panels_size_times_the_scale(page, mount, tmp_path, scale):
    w = widget()
    mount(w)
    path = save(page, w, tmp_path / f"grid@{scale}.png", panel="grid", scale=scale)
    width, height = png_size(path.read_bytes())
    css = page.evaluate(
        "() => { const c = document.querySelector('[data-testid=attn-grid]');"
        " return [parseFloat(c.style.width), parseFloat(c.style.height)]; }"
    )
    margin = 8  # figure.ts: a margin on every side
    assert (width, height) == (round((css[0] + 2 * margin) * scale), round((css[1] + 2 * margin) * scale))


def test_whole_widget_png_holds_every_panel(page, mount, tmp_path):
    w = widget()
    mount(w)
    path = save(page, w, tmp_path / "all.png", panel="all", scale=1)
    width, height = png_size(path.read_bytes())
    fig = page.evaluate("() => document.querySelector('[data-testid=attn-widget]').dataset.figureSize")
    assert f"{width}x{height}" == fig
    boxes = page.evaluate(
        """() => ['attn-grid', 'attn-heatmap', 'attn-strip'].map((t) => {
             const b = document.querySelector(`[data-testid=${t}]`).getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })"""
    )
    span_w = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    span_h = max(b[3] for b in boxes) - min(b[1] for b in boxes)
    assert width >= span_w and height >= span_h, (width, height, span_w, span_h)


def test_large_heatmap_svg_is_one_image_at_native_resolution(page, mount, tmp_path):
    n = 300
    att = softmax_attention(layers=1, heads=1, n=n, seed=2, causal=True)
    w = AttentionWidget(att, [f"t{i}" for i in range(n)])
    mount(w, width=1200)
    path = save(page, w, tmp_path / "big.svg", panel="heatmap")
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert root.find(f".//{SVG}g[@data-part='heatmap-cells']") is None
    images = list(root.iter(f"{SVG}image"))
    assert len(images) == 1, f"{len(images)} images"
    import base64

    data = base64.b64decode(images[0].get("href").split(",", 1)[1])
    assert png_size(data) == (n, n)  # one pixel per cell: the window holds every cell at block 1


def test_toolbar_export_downloads_the_figure(page, mount, tmp_path):
    w = widget()
    mount(w)
    page.get_by_test_id("attn-export").click()
    page.get_by_test_id("attn-export-panel").select_option("heatmap")
    page.get_by_test_id("attn-export-format").select_option("png4")
    with page.expect_download() as info:
        page.get_by_test_id("attn-export-download").click()
    download = info.value
    assert download.suggested_filename == "attention-heatmap-L1H2@4x.png"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    fig = page.evaluate("() => document.querySelector('[data-testid=attn-widget]').dataset.figureSize")
    fw, fh = (int(v) for v in fig.split("x"))
    assert png_size(target.read_bytes()) == (4 * fw, 4 * fh)


def test_selection_outline_comes_along(page, mount, tmp_path):
    w = widget(query=4, key=1)
    mount(w)
    root = ET.fromstring(save(page, w, tmp_path / "sel.svg", panel="heatmap").read_text(encoding="utf-8"))
    outlines = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#ff2a6d"]
    assert len(outlines) == 2, "the selected query row and key column are outlined"


def test_save_without_a_view_says_display_it_first(tmp_path):
    w = widget()
    with pytest.raises(RuntimeError, match="display the widget first"):
        w.save(tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
