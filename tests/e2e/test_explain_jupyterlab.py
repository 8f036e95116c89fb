"""The explain panel in JupyterLab with a real kernel, on the shipped grounding model: with the
"horse" head's cell selected (layer 9, head 1, the last token's row, the "horse" column), the
explain button opens a panel whose score, terms, shares and written tokens are the text Python
prints for ``w.explain()`` and ``w.writes()``; clicking a component that is a head selects that head
in the grid, and the panel explains the same cell for it."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lab import jupyter_lab, open_and_run_all, wait_for, write_notebook

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"

SETUP = f"""import sys, json, pathlib
sys.path.insert(0, {str(ROOT)!r})
from attn_widget import AttentionWidget
from attn_widget.grounding import load_grounding_model
from attn_widget.widget.explain_reply import TOP_PAIRS, TOP_SHARES, TOP_TOKENS, number, pair_label
model, tokenizer = load_grounding_model()
text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
w = AttentionWidget.from_model(model, tokenizer, text)
w.layer, w.head, w.query, w.key = 9, 1, len(w.tokens) - 1, w.tokens.index("horse")

def shares(by):
    return [name + number(v) for name, v in sorted(by.items(), key=lambda kv: -abs(kv[1]))[:TOP_SHARES]]

def report(change=None):
    e, written = w.explain(), w.writes(k=TOP_TOKENS)
    state = {{
        "cell": f"{{e.layer}},{{e.head}},{{e.query}},{{e.key}}",
        "score": number(e.score),
        "pairs": [pair_label(e, a, b) + number(v) for a, b, v in e.terms[:TOP_PAIRS]],
        "by_query": shares(e.by_query),
        "by_key": shares(e.by_key),
        "promoted": [f"{{t}} {{number(v)}}" for t, v in written.promoted],
    }}
    pathlib.Path("explain.json").write_text(json.dumps(state))

w.observe(report, names=["layer", "head"])
report()
w"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab-explain")
    write_notebook(root / "explain.ipynb", [SETUP])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def _state(root: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads((root / "explain.json").read_text())
    except (OSError, ValueError):
        return {}


def _shown(panel: Any) -> dict[str, Any]:
    """What the panel shows, in the state's terms."""

    def texts(selector: str) -> list[str]:
        return [(row.text_content() or "") for row in panel.locator(selector).all()]

    return {
        "cell": panel.get_attribute("data-cell"),
        "score": panel.locator("[data-testid=attn-explain-score]").text_content(),
        "pairs": texts("[data-testid=attn-explain-pair]"),
        "by_query": texts("[data-testid=attn-explain-by-query] [data-testid=attn-explain-share]"),
        "by_key": texts("[data-testid=attn-explain-by-key] [data-testid=attn-explain-share]"),
        "promoted": texts("[data-testid=attn-explain-promoted] .attn-explain-token"),
    }


def test_the_panel_shows_pythons_explanation_and_selects_a_head(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, lab["url"], "explain.ipynb")
        widget = page.locator("[data-testid=attn-widget][data-ready=true]").first
        widget.wait_for(timeout=120_000)
        page.locator("[data-head-shown='9,1']").wait_for(state="attached", timeout=60_000)
        wait_for(lambda: _state(lab["root"]).get("cell", "").startswith("9,1,"), 60, "the kernel's explanation")
        want = _state(lab["root"])

        page.locator("[data-testid=attn-explain]").first.click()
        panel = page.locator("[data-testid=attn-explain-panel][data-state=ready]").first
        panel.wait_for(timeout=60_000)
        assert _shown(panel) == want
        widget.screenshot(path=str(RESULTS / "explain-widget.png"))  # docs/img/explain.png

        # Click the first head among the components: the grid selects it, the panel follows.
        head = panel.locator("[data-testid=attn-explain-component]").first
        layer, number = int(head.get_attribute("data-layer") or -1), int(head.get_attribute("data-head") or -1)
        assert (head.text_content() or "") == f"L{layer}H{number}"
        head.click()
        page.locator(f"[data-head-shown='{layer},{number}']").wait_for(state="attached", timeout=30_000)
        wait_for(lambda: _state(lab["root"]).get("cell", "").startswith(f"{layer},{number},"), 60, "the kernel's new head")
        want = _state(lab["root"])
        page.locator(f"[data-testid=attn-explain-panel][data-state=ready][data-cell='{want['cell']}']").wait_for(timeout=60_000)
        assert _shown(panel) == want
        assert errors == [], errors
    finally:
        context.close()
