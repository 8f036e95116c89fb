"""Live generation in JupyterLab with a real kernel: the widget shows the first tokens before the
last is written, the stop button stops decoding, hovering a generated row shows the candidates
Python kept, and choosing one forks a comparison whose runs share the prefix.

The model is a random GPT-2 made slow on purpose (20 ms per forward pass), so that decoding is
still running, whatever the machine, when the test looks and clicks."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lab import jupyter_lab, open_and_run_all, wait_for, write_notebook
from tests.support.widget_page import cell_center

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
MAX_NEW = 900
HOVERED = 20  # a generated position (the prompt is 7 tokens)

SETUP = f"""import sys, json, time, pathlib
sys.path.insert(0, {str(ROOT)!r})
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from tests.support.models import byte_level_tokenizer
from attn_widget import AttentionWidget
from attn_widget.widget.live_feed import probability_text
tokenizer = byte_level_tokenizer()
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=64, n_layer=2, n_head=4)).eval()
model.register_forward_pre_hook(lambda *args: time.sleep(0.02))  # slow on purpose: see the test's docstring
w = AttentionWidget.generate(model, tokenizer, "the cat sat on the mat and", max_new_tokens={MAX_NEW}, min_new_tokens={MAX_NEW})

def report(change=None):
    state = {{"generating": w.generating, "step": w.step, "n": w.n_tokens, "tokens": w.tokens}}
    if w._generation.get("done"):
        c = w.candidates({HOVERED})
        state["candidates"] = [f"{{t}} {{probability_text(p)}}" for t, p in zip(c.tokens, c.probabilities)]
        state["chosen"] = c.chosen
    state["forks"] = [{{"labels": f.compare_labels, "tokens": f.tokens}} for f in w.forks]
    pathlib.Path("live.json").write_text(json.dumps(state))

def ended(change):
    if change["new"].get("done") and not change["old"].get("done"):
        w.window = [0, 40, 0, 40]  # rows big enough to hover one (the test stops after row 40)
        report()

w.observe(ended, names=["_generation"])
w.observe(report, names=["_forks"])
w"""


# The packaged grounding model writes the toy the child played with: the picture in the docs.
GROUNDING = f"""import sys, json, pathlib
sys.path.insert(0, {str(ROOT)!r})
from attn_widget import AttentionWidget
from attn_widget.grounding import load_grounding_model
from attn_widget.widget.live_feed import probability_text
model, tokenizer = load_grounding_model()
w = AttentionWidget.generate(model, tokenizer, "<CHI> painted a picture of a horse and a ball <CHI> my favorite toy is the",
                             max_new_tokens=8, widget_options=dict(layer=0, head=0))

def ended(change):
    if change["new"].get("done") and not change["old"].get("done"):
        c = w.candidates(16)
        state = {{"tokens": w.tokens, "candidates": [f"{{t}} {{probability_text(p)}}" for t, p in zip(c.tokens, c.probabilities)]}}
        pathlib.Path("grounding.json").write_text(json.dumps(state))

w.observe(ended, names=["_generation"])
w"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab-live")
    write_notebook(root / "live.ipynb", [SETUP])
    write_notebook(root / "grounding.ipynb", [GROUNDING])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def _state(root: pathlib.Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "live.json").read_text())
    except (OSError, ValueError):
        return None


def test_live_widget_stop_candidates_and_fork(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, lab["url"], "live.ipynb")
        widget = page.locator("[data-testid=attn-widget][data-ready=true]").first
        widget.wait_for(timeout=120_000)
        progress = page.locator("[data-testid=attn-progress]").first

        # While the model writes: the progress line counts steps and the heatmap has grown past the prompt.
        page.wait_for_function(
            "el => /^step [1-9][0-9]* of 900/.test(el.textContent)", arg=progress.element_handle(), timeout=60_000
        )
        heatmap = page.locator("[data-testid=attn-heatmap]").first
        page.wait_for_function("h => +h.dataset.rows > 44", arg=heatmap.element_handle(), timeout=60_000)
        page.screenshot(path=str(RESULTS / "jupyterlab-live-generation.png"))

        page.locator("[data-testid=attn-stop]").first.click()
        wait_for(lambda: "candidates" in (_state(lab["root"]) or {}), 60, "the end of decoding in the kernel")
        state = _state(lab["root"])
        assert state is not None and state["generating"] is False and 37 < state["step"] < 900, state
        assert progress.text_content().startswith(f"stopped at {state['step']} of 900"), progress.text_content()

        # Python zoomed to rows 0-39 when decoding ended: hover a generated row, read its candidates.
        page.wait_for_function("h => +h.dataset.rows === 40", arg=heatmap.element_handle(), timeout=30_000)
        page.mouse.move(*cell_center(page, "attn-heatmap", HOVERED, 0))
        candidates = page.locator("[data-testid=attn-candidates]").first
        candidates.wait_for(state="visible", timeout=10_000)
        shown = [b.text_content() for b in candidates.locator("[data-testid=attn-candidate]").all()]
        assert shown == state["candidates"], (shown, state["candidates"])
        assert f"at {HOVERED} it wrote “{state['chosen']}”" in (candidates.text_content() or "")
        page.screenshot(path=str(RESULTS / "jupyterlab-live-candidates.png"))

        # Fork at the hovered position with its first candidate that is not the token written.
        choice = candidates.locator("[data-testid=attn-candidate]:not([disabled])").first
        picked = (choice.text_content() or "").rsplit(" ", 1)[0]
        choice.click()
        wait_for(lambda: bool((_state(lab["root"]) or {}).get("forks")), 120, "a fork in w.forks")
        fork = _state(lab["root"])["forks"][0]  # type: ignore[index]
        assert fork["labels"] == ["as written", f"fork at {HOVERED}: {picked}"]
        assert fork["tokens"][:HOVERED] == state["tokens"][:HOVERED]  # the shared prefix, unlabelled
        assert "/" in fork["tokens"][HOVERED]  # "written/forked" where they differ
        page.locator("[data-testid=attn-fork] [data-testid=attn-widget][data-ready=true]").wait_for(timeout=60_000)
        page.locator("[data-testid=attn-fork]").scroll_into_view_if_needed()
        page.screenshot(path=str(RESULTS / "jupyterlab-live-fork.png"))
        assert errors == [], errors
    finally:
        context.close()


def test_grounding_model_candidates_in_the_page(lab: dict[str, Any], browser: Any) -> None:
    """The trained model: hovering the generated "ball" row shows what Python kept for it."""
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 1100})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, lab["url"], "grounding.ipynb")
        widget = page.locator("[data-testid=attn-widget][data-ready=true]").first
        widget.wait_for(timeout=120_000)
        wait_for(lambda: (lab["root"] / "grounding.json").exists(), 60, "the end of decoding in the kernel")
        state = json.loads((lab["root"] / "grounding.json").read_text())
        assert state["tokens"][16] == "ball", state["tokens"]  # the toy the child played with
        progress = page.locator("[data-testid=attn-progress]").first
        page.wait_for_function("el => /^wrote 8 of 8/.test(el.textContent)", arg=progress.element_handle(), timeout=30_000)
        heatmap = page.locator("[data-testid=attn-heatmap]").first
        page.wait_for_function("h => +h.dataset.rows === 24", arg=heatmap.element_handle(), timeout=30_000)
        page.mouse.move(*cell_center(page, "attn-heatmap", 16, 10))
        candidates = page.locator("[data-testid=attn-candidates]").first
        candidates.wait_for(state="visible", timeout=10_000)
        shown = [b.text_content() for b in candidates.locator("[data-testid=attn-candidate]").all()]
        assert shown == state["candidates"], (shown, state["candidates"])
        widget.screenshot(path=str(RESULTS / "live-generation-widget.png"))  # docs/img/live-generation.png
        assert errors == [], errors
    finally:
        context.close()
