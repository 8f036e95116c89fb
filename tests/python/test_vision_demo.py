"""The packaged vision demo (attn_widget/vision_demo.py, weights in attn_widget/vision_model/):
it loads offline, its scenes' masks are the drawn pixels, its grounding number is what
training.json recorded, and its capture is the model's own attention."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from attn_widget import capture
from attn_widget.vision_demo import (
    BACKGROUND,
    COLOURS,
    MODEL_DIR,
    PATCH,
    SIZE,
    TEST_SEED,
    TRAIN_SEED,
    VALIDATION_SEED,
    load_vision_model,
    measure_grounding,
    scenes,
)

RECORD = json.loads((MODEL_DIR / "training.json").read_text())
FIRST = 20  # the test stream's first scenes, whose numbers training.json keeps apart
# Two words of the 40 may fall the other way: an argmax between two near-equal weights can flip
# with another BLAS or thread count. Recomputed on the machine that trained it, the two agree exactly.
TOLERANCE = 2 / (2 * FIRST)


@pytest.fixture(scope="module")
def packaged() -> tuple[Any, Any]:
    return load_vision_model()


def test_the_packaged_model_loads_offline_and_captions_a_held_out_scene(packaged):
    model, processor = packaged
    assert model.config.model_type == "llava" and not model.training
    assert model.config.vision_config.model_type == "clip_vision_model"
    assert sum(p.stat().st_size for p in MODEL_DIR.iterdir()) < 4_000_000  # small enough to ship in the wheel
    scene = scenes(1, TEST_SEED)[0]
    enc = processor(text="<image>", images=scene.image, return_tensors="pt")
    assert int((enc["input_ids"] == model.config.image_token_id).sum()) == (SIZE // PATCH) ** 2
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    caption = processor.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    named = {(o.colour, o.shape) for o in scene.objects}
    words = caption.split()
    assert {(words[1], words[2]), (words[-2], words[-1])} == named, (caption, scene.caption)


def test_scene_masks_are_exactly_the_drawn_pixels():
    for scene in scenes(50, TEST_SEED):
        assert scene.image.shape == (SIZE, SIZE, 3) and scene.image.dtype == np.uint8
        painted = np.zeros((SIZE, SIZE), dtype=bool)
        for obj in scene.objects:
            of_colour = (scene.image == COLOURS[obj.colour]).all(axis=-1)
            assert np.array_equal(of_colour, obj.mask), scene.caption
            ys, xs = np.nonzero(obj.mask)
            assert obj.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert not (painted & obj.mask).any()  # the two shapes never overlap
            painted |= obj.mask
        assert (scene.image[~painted] == BACKGROUND).all()
        first, second = scene.objects
        assert scene.caption.startswith(f"a {first.colour} {first.shape} ")
        assert scene.caption.endswith(f" a {second.colour} {second.shape}")


def test_held_out_streams_are_other_scenes():
    train, validation, test = (scenes(20, s) for s in (TRAIN_SEED, VALIDATION_SEED, TEST_SEED))
    images = [s.image.tobytes() for s in train + validation + test]
    assert len(set(images)) == len(images)
    assert RECORD["seeds"] == {"train": TRAIN_SEED, "validation": VALIDATION_SEED, "test": TEST_SEED}


@pytest.mark.parametrize("query", ["noun", "colour"])
def test_grounding_on_held_out_scenes_reproduces_training_json(packaged, query):
    model, processor = packaged
    recorded = RECORD["grounding"]["by_query"][query]
    layer, head = recorded["best_head"]
    measured = measure_grounding(model, processor, scenes(FIRST, TEST_SEED), query)
    first = recorded[f"first_{FIRST}_test_scenes"]
    assert abs(measured.head_rate(layer, head) - first["best_head"]) <= TOLERANCE
    assert abs(float(measured.mean_hits.mean()) - first["mean_over_heads"]) <= TOLERANCE
    # chance is a property of the scenes alone: exact
    assert measured.chance.shape == (2 * FIRST,)


def test_every_head_of_the_capture_equals_eager_attention():
    model, processor = load_vision_model()  # its own copy: switched to eager below
    scene = scenes(1, TEST_SEED)[0]
    c = capture(model, processor, scene.prompt, images=scene.image)
    enc = processor(text=scene.prompt, images=scene.image, return_tensors="pt")
    model.set_attn_implementation("eager")
    with torch.no_grad():
        text = model(**enc, output_attentions=True, use_cache=False).attentions
        vision = model.model.vision_tower(enc["pixel_values"], output_attentions=True).attentions
    for kind, eager in (("self", text), ("vision", vision)):
        expected = torch.stack([a[0] for a in eager]).float().numpy()  # (L, H, N, N)
        assert c.shape(kind) == expected.shape
        np.testing.assert_allclose(c.attentions(kind), expected, atol=1e-5, rtol=0)


NOTEBOOK = MODEL_DIR.parents[1] / "notebooks" / "vision.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_vision_notebook_runs_offline_and_prints_what_python_computes(tmp_path, packaged):
    """The notebook runs top to bottom on the packaged model, shows both widgets, and its
    recomputed grounding line is the number this process computes."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert len([o for o in outputs if WIDGET_VIEW in o.get("data", {})]) == 2  # the captioner, the random ViT
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")

    model, processor = packaged
    layer, head = RECORD["grounding"]["by_query"]["colour"]["best_head"]
    measured = measure_grounding(model, processor, scenes(FIRST, TEST_SEED), "colour")
    line = (
        f"first 20 test scenes, colour words: best head L{layer}H{head} {measured.head_rate(layer, head):.3f}, "
        f"mean of all heads {measured.mean_hits.mean():.3f}, chance {measured.chance.mean():.3f}"
    )
    assert line in printed, printed
    assert f"true caption: {scenes(1, TEST_SEED)[0].caption}" in printed
    assert "patch r0 c0 covers x 0..91, y 0..61 of the 640 x 427 photo" in printed, printed
