"""Hosts we cannot run here (VS Code, Colab), followed by what they document: colours come from
JupyterLab's --jp-* variables, then VS Code's --vscode-* variables and its vscode-dark body class,
then the colour scheme the page declares, then the reader's prefers-color-scheme; the widget sizes
itself against the cell that holds it, not the window; the bundle has no `require`."""

from __future__ import annotations

import pathlib
import re
import xml.etree.ElementTree as ET

import pytest

from attn_widget import AttentionWidget
from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center, save, tooltip_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIGHT_TEXT, DARK_TEXT = "rgb(31, 31, 31)", "rgb(224, 224, 224)"  # styles.css --attn-auto-fg


def widget() -> AttentionWidget:
    return AttentionWidget(softmax_attention(layers=2, heads=3, n=8, seed=2), [f"w{i}" for i in range(8)], layer=1, head=1)


def root_style(page, prop: str, selector: str = "[data-testid=attn-widget]") -> str:
    return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")


def scheme(page) -> str:
    return page.locator("[data-testid=attn-widget]").get_attribute("data-scheme") or ""


def label_fills(page, w: AttentionWidget, tmp_path: pathlib.Path) -> set[str]:
    """The colours the heatmap's canvas gave its token labels, read from the same drawing as SVG."""
    svg = ET.parse(save(page, w, tmp_path / "heatmap.svg", panel="heatmap")).getroot()
    return {t.get("fill", "") for t in svg.iter("{http://www.w3.org/2000/svg}text") if (t.text or "").startswith("w")}


def test_vscode_dark_takes_the_editors_variables(page, mount, tmp_path):
    page.evaluate("""() => {
      document.body.classList.add('vscode-dark');
      document.body.style.background = 'rgb(30, 30, 30)';
      const s = document.documentElement.style;
      s.setProperty('--vscode-editor-foreground', 'rgb(204, 205, 206)');
      s.setProperty('--vscode-editorHoverWidget-background', 'rgb(37, 38, 39)');
      s.setProperty('--vscode-editorWidget-border', 'rgb(69, 70, 71)');
    }""")
    w = widget()
    mount(w)
    assert scheme(page) == "dark"
    assert root_style(page, "color") == "rgb(204, 205, 206)"
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 2))
    tooltip_text(page)
    assert root_style(page, "backgroundColor", "[data-testid=attn-tooltip]") == "rgb(37, 38, 39)"
    assert root_style(page, "borderTopColor", "[data-testid=attn-tooltip]") == "rgb(69, 70, 71)"
    assert label_fills(page, w, tmp_path) == {"rgb(204, 205, 206)"}  # the canvas text too


def test_vscode_dark_class_alone_gives_dark_colours(page, mount):
    page.evaluate("() => { document.body.classList.add('vscode-dark'); document.body.style.background = '#1e1e1e'; }")
    mount(widget())
    assert scheme(page) == "dark"
    assert root_style(page, "color") == DARK_TEXT
    assert root_style(page, "backgroundColor", ".attn-toolbar select") == "rgb(38, 38, 38)"


def test_jupyterlab_variables_win_over_vscodes(page, mount):
    page.evaluate("""() => {
      const s = document.documentElement.style;
      s.setProperty('--jp-ui-font-color1', 'rgb(1, 2, 3)');
      s.setProperty('--vscode-editor-foreground', 'rgb(9, 9, 9)');
    }""")
    mount(widget())
    assert root_style(page, "color") == "rgb(1, 2, 3)"


def test_without_host_variables_the_readers_colour_scheme_decides_and_is_followed_live(page, mount, tmp_path):
    page.emulate_media(color_scheme="dark")
    w = widget()
    mount(w)
    assert (scheme(page), root_style(page, "color")) == ("dark", DARK_TEXT)
    assert label_fills(page, w, tmp_path) == {DARK_TEXT}
    page.emulate_media(color_scheme="light")
    page.locator("[data-testid=attn-widget][data-scheme=light]").wait_for(state="attached")
    assert root_style(page, "color") == LIGHT_TEXT
    assert label_fills(page, w, tmp_path) == {LIGHT_TEXT}  # the canvases were redrawn in the new colours


@pytest.mark.parametrize(
    ("declared", "system", "expected"), [("light", "dark", "light"), ("dark", "light", "dark"), ("light dark", "dark", "dark")]
)
def test_a_page_that_declares_its_colour_scheme_is_followed(page, mount, declared, system, expected):
    """marimo declares color-scheme on its root (light by default, whatever the system prefers)."""
    page.emulate_media(color_scheme=system)
    page.evaluate("s => { document.documentElement.style.colorScheme = s; }", declared)
    mount(widget())
    assert scheme(page) == expected
    assert root_style(page, "color") == (DARK_TEXT if expected == "dark" else LIGHT_TEXT)


def test_the_widget_sizes_itself_against_its_cell_not_the_window(page, mount):
    """The viewport is 1,280 px wide; the cell holding the widget is what counts."""
    mount(widget(), width=520)
    widths = page.evaluate("""() => {
      const root = document.querySelector('[data-testid=attn-widget]');
      const cell = root.parentElement.getBoundingClientRect();
      const right = Math.max(...[...root.querySelectorAll('canvas, .attn-toolbar')].map(e => e.getBoundingClientRect().right));
      return {cell: cell.width, left: cell.left, root: root.getBoundingClientRect().width, right,
              heat: root.querySelector('[data-testid=attn-heatmap]').getBoundingClientRect().width};
    }""")
    assert widths["cell"] == 520 and widths["root"] <= 520, widths
    assert widths["right"] <= widths["left"] + 520 + 0.5, widths  # nothing spills out of the cell
    page.evaluate("() => { document.querySelector('[data-testid=attn-widget]').parentElement.style.width = '900px'; }")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=attn-heatmap]').getBoundingClientRect().width > {widths['heat'] + 100}"
    )


def test_the_bundle_uses_no_require():
    """VS Code's notebook renderer and other ESM-only hosts load the bundle as a module: no AMD or CommonJS."""
    bundle = (ROOT / "attn_widget" / "static" / "widget.js").read_text(encoding="utf-8")
    assert "require(" not in bundle and "define(" not in bundle and "module.exports" not in bundle
    assert re.search(r"export ?\{[^}]*as default", bundle), "the bundle is an ES module with a default export"
