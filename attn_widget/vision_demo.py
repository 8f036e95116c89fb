"""The packaged vision-language demo: synthetic scenes of two coloured shapes with a caption
("a red circle above a blue square"), and the small LLaVA-style model trained on them
(scripts/train_vision.py, weights in ``vision_model/``). The grounding measurement that
training.json records lives in ``vision_grounding``.

Everything here is deterministic: a scene is a function of its seed stream, and the untrained
control is the model as the script initialised it, rebuilt from the same seed.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .widget.attention_widget import AttentionWidget

MODEL_DIR = pathlib.Path(__file__).parent / "vision_model"

SIZE = 64  # scenes are SIZE x SIZE pixels: the processor's size, so its resize changes nothing
PATCH = 8  # the vision tower's patch side: an 8 x 8 grid of patches
RADIUS = (10.0, 14.0)  # a shape's half-size in pixels: about 3 patches across
BACKGROUND = (235, 235, 235)
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (230, 200, 20),
    "purple": (140, 50, 180),
}
SHAPES = ("circle", "square", "triangle")
# the caption's relation words for (first object) RELATION (second object)
RELATIONS = ("above", "below", "to the left of", "to the right of")
IMAGE_TOKEN = "<image>"
SPECIAL = ("<pad>", "<unk>", "<bos>", "<eos>", IMAGE_TOKEN)

#: the caption words whose rows the grounding measurement reads: the colour word (whose next word
#: is the shape noun) and the shape noun itself
QUERIES = ("colour", "noun")

# The seed streams: training, validation (chooses the best head), test (the reported number).
TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 0, 1, 2


@dataclass(frozen=True)
class SceneObject:
    """One drawn shape: its words, its exact pixel mask (H x W bool) and bounding box
    ``(x0, y0, x1, y1)`` in pixels, end exclusive."""

    colour: str
    shape: str
    mask: np.ndarray
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    """A picture (SIZE x SIZE x 3 uint8), its caption, and its two objects in caption order."""

    image: np.ndarray
    caption: str
    objects: tuple[SceneObject, SceneObject]

    @property
    def prompt(self) -> str:
        """The model's input for this scene: the picture's placeholder, then the caption."""
        return f"{IMAGE_TOKEN} {self.caption}"


def vocabulary() -> list[str]:
    """Every token the tokenizer knows: the special ones, then the caption words, sorted."""
    words = {"a", *COLOURS, *SHAPES}
    for relation in RELATIONS:
        words.update(relation.split())
    return [*SPECIAL, *sorted(words)]


def shape_mask(shape: str, cx: float, cy: float, r: float, size: int = SIZE) -> np.ndarray:
    """The pixels (by their centres) of a shape of half-size ``r`` centred at (cx, cy): a disc, an
    axis-aligned square of side 1.6 r, or an upward triangle of base 2 r and height 1.8 r."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    if shape == "circle":
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if shape == "square":
        return (np.abs(x - cx) <= 0.8 * r) & (np.abs(y - cy) <= 0.8 * r)
    if shape == "triangle":
        top, bottom = cy - r, cy + 0.8 * r
        return (y >= top) & (y <= bottom) & (np.abs(x - cx) <= (y - top) / 1.8)
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _relation(first: tuple[float, float], second: tuple[float, float]) -> str | None:
    """Where the first centre is from the second, or None when neither axis clearly dominates."""
    dx, dy = first[0] - second[0], first[1] - second[1]
    if max(abs(dx), abs(dy)) < 1.5 * min(abs(dx), abs(dy)):
        return None  # near a diagonal: the caption would be a coin toss
    if abs(dy) > abs(dx):
        return "above" if dy < 0 else "below"
    return "to the left of" if dx < 0 else "to the right of"


def make_scene(rng: np.random.Generator) -> Scene:
    """One scene drawn from ``rng``: two shapes of different colours that do not touch (their
    boxes 2 pixels apart at least), placed so one relation clearly holds."""
    while True:
        colours = rng.choice(len(COLOURS), size=2, replace=False)
        shapes = rng.integers(len(SHAPES), size=2)
        radii = rng.uniform(*RADIUS, size=2)
        centres = [(float(rng.uniform(r + 1, SIZE - r - 1)), float(rng.uniform(r + 1, SIZE - r - 1))) for r in radii]
        masks = [shape_mask(SHAPES[s], cx, cy, r) for s, (cx, cy), r in zip(shapes, centres, radii, strict=True)]
        boxes = [_box(m) for m in masks]
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
        apart = ax1 + 2 <= bx0 or bx1 + 2 <= ax0 or ay1 + 2 <= by0 or by1 + 2 <= ay0
        relation = _relation(centres[0], centres[1])
        if apart and relation is not None:
            break
    names = list(COLOURS)
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    objects = []
    for c, s, mask, box in zip(colours, shapes, masks, boxes, strict=True):
        image[mask] = COLOURS[names[c]]
        objects.append(SceneObject(names[c], SHAPES[s], mask, box))
    first, second = objects
    caption = f"a {first.colour} {first.shape} {relation} a {second.colour} {second.shape}"
    return Scene(image, caption, (first, second))


def scenes(n: int, seed: int) -> list[Scene]:
    """``n`` scenes of the stream ``seed`` (TRAIN_SEED, VALIDATION_SEED or TEST_SEED)."""
    rng = np.random.default_rng(seed)
    return [make_scene(rng) for _ in range(n)]


def scene_stream(seed: int) -> Iterator[Scene]:
    """Scenes of the stream ``seed`` without end (training draws its batches from TRAIN_SEED)."""
    rng = np.random.default_rng(seed)
    while True:
        yield make_scene(rng)


def word_positions(tokens: Sequence[str], scene: Scene, query: str = "noun") -> list[int]:
    """The positions of the query rows for the scene's two objects, in caption order: the shape
    nouns (``query="noun"``) or the colour words just before them (``query="colour"``, the rows
    whose next word is the noun). Found in the caption part only (after the last image token)."""
    if query not in QUERIES:
        raise ValueError(f"query must be one of {QUERIES}, got {query!r}")
    start = max(i for i, t in enumerate(tokens) if t.startswith("<img")) + 1
    words = list(tokens[start:])
    nouns: list[int] = []
    for obj in scene.objects:  # the second noun is looked for after the first (both may be "circle")
        noun = words.index(obj.shape, nouns[-1] - start + 1 if nouns else 0) + start
        if tokens[noun - 1] != obj.colour:
            raise ValueError(f"expected {obj.colour!r} before {obj.shape!r} in {words}")
        nouns.append(noun)
    return nouns if query == "noun" else [n - 1 for n in nouns]


def load_vision_model() -> tuple[Any, Any]:
    """The shipped model (LLaVA: a CLIP vision tower and a Llama language model, both tiny) and
    its processor, from ``vision_model/``; no network is touched."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    if not (MODEL_DIR / "config.json").exists():
        raise FileNotFoundError(f"no trained vision model in {MODEL_DIR}: run `.venv/bin/python scripts/train_vision.py`")
    model = LlavaForConditionalGeneration.from_pretrained(MODEL_DIR)
    processor = AutoProcessor.from_pretrained(MODEL_DIR)
    return model.eval(), processor


def untrained_vision_model(seed: int = 0) -> Any:
    """The grounding measurement's control: the shipped model's architecture with the weights
    scripts/train_vision.py started from (the same config, initialised after the same
    ``torch.manual_seed``), before any training step. Use it with the shipped processor. The
    caller's random state is left as it was."""
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlavaForConditionalGeneration(LlavaConfig.from_pretrained(MODEL_DIR)).eval()


def vision_widget(index: int = 0, **kwargs: Any) -> AttentionWidget:
    """The widget on the shipped model for held-out scene ``index`` of the test stream, on the
    head that grounds colour words best (training.json) with the first colour word's row selected:
    the image panel shows where that word looks. ``kwargs`` go to ``AttentionWidget.from_model``."""
    import json

    from .widget.attention_widget import AttentionWidget

    model, processor = load_vision_model()
    scene = scenes(index + 1, TEST_SEED)[index]
    record = json.loads((MODEL_DIR / "training.json").read_text())
    layer, head = record["grounding"]["by_query"]["colour"]["best_head"]
    options = {"kind": "self", "layer": layer, "head": head, **kwargs}
    widget = AttentionWidget.from_model(model, processor, scene.prompt, images=scene.image, **options)
    if "query" not in kwargs:
        widget.query = word_positions(widget.capture.kind("self").queries.tokens, scene, "colour")[0]
    return widget


def random_vit(image_size: int = 224, patch_size: int = 32, seed: int = 0) -> tuple[Any, Any]:
    """A ViT with RANDOM weights (no pretrained vision weights exist offline) and its image
    processor: something to look at a real photo's patches with, not a trained model."""
    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
    )
    processor = ViTImageProcessorPil(size={"height": image_size, "width": image_size})
    return ViTModel._from_config(config).eval(), processor
