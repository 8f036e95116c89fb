"""The packaged vision-language demo: synthetic scenes of two coloured shapes with a caption
("a red circle above a blue square"), the small LLaVA-style model trained on them
(scripts/train_vision.py, weights in ``vision_model/``), and the grounding measurement that
training.json records: for each shape noun of the caption, is the image patch a head attends to
most inside that shape?

Everything here is deterministic: a scene is a function of its seed stream, and the measurement
reads the same capture the widget shows (``capture(model, processor, text, images=...)``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def load_vision_model() -> tuple[Any, Any]:
    """The shipped model (LLaVA: a CLIP vision tower and a Llama language model, both tiny) and
    its processor, from ``vision_model/``; no network is touched."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    if not (MODEL_DIR / "config.json").exists():
        raise FileNotFoundError(f"no trained vision model in {MODEL_DIR}: run `.venv/bin/python scripts/train_vision.py`")
    model = LlavaForConditionalGeneration.from_pretrained(MODEL_DIR)
    processor = AutoProcessor.from_pretrained(MODEL_DIR)
    return model.eval(), processor


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


# ---------------------------------------------------------------------------------- grounding

#: a patch is "inside" a shape when at least this fraction of its pixels lie in the shape's mask
INSIDE = 0.5


@dataclass(frozen=True)
class Grounding:
    """Where the shape words look, over ``n`` shape words (two per scene).

    ``head_hits`` (n, L, H) bool: the patch head (l, h) attends to most (of the image's patches)
    from the word's row is inside the word's shape. ``mean_hits`` (n,) the same for the mean of
    every head of every layer, ``layer_hits`` (n, L) for each layer's mean over heads. The
    ``*_other`` arrays say the same of the scene's OTHER shape: a head that looks at shapes without
    telling them apart scores as much there as on the named one. ``chance`` (n,): the fraction of
    the image's patches that are inside the shape (what a patch picked at random scores);
    ``area`` (n,): the fraction of the picture's pixels the shape covers."""

    head_hits: np.ndarray
    mean_hits: np.ndarray
    layer_hits: np.ndarray
    head_other: np.ndarray
    mean_other: np.ndarray
    chance: np.ndarray
    area: np.ndarray

    def head_rate(self, layer: int, head: int) -> float:
        return float(self.head_hits[:, layer, head].mean())

    def best_head(self) -> tuple[int, int]:
        """The head with the highest hit rate here (first in layer, head order on ties)."""
        rates = self.head_hits.mean(axis=0)
        layer, head = np.unravel_index(int(rates.argmax()), rates.shape)
        return int(layer), int(head)


def inside_patches(patches: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(P,) bool: which patches of a capture's patch map (rows token, image, x0, y0, x1, y1) have
    at least INSIDE of their pixels in ``mask``."""
    inside = np.zeros(len(patches), dtype=bool)
    for i, (_, _, x0, y0, x1, y1) in enumerate(patches.tolist()):
        region = mask[y0:y1, x0:x1]
        inside[i] = region.size > 0 and region.mean() >= INSIDE
    return inside


def word_positions(tokens: Sequence[str], scene: Scene, query: str = "noun") -> list[int]:
    """The positions of the query rows for the scene's two objects, in caption order: the shape
    nouns (``query="noun"``) or the colour words just before them (``query="colour"``, the rows
    whose next word is the noun). Found in the caption part only (after the last image token)."""
    start = max(i for i, t in enumerate(tokens) if t.startswith("<img")) + 1
    words = list(tokens[start:])
    if query not in ("noun", "colour"):
        raise ValueError(f"query must be 'noun' or 'colour', got {query!r}")
    nouns: list[int] = []
    for obj in scene.objects:  # the second noun is looked for after the first (both may be "circle")
        noun = words.index(obj.shape, nouns[-1] - start + 1 if nouns else 0) + start
        if tokens[noun - 1] != obj.colour:
            raise ValueError(f"expected {obj.colour!r} before {obj.shape!r} in {words}")
        nouns.append(noun)
    return nouns if query == "noun" else [n - 1 for n in nouns]


def measure_grounding(model: Any, processor: Any, shown: Sequence[Scene], query: str = "noun") -> Grounding:
    """Capture each scene with its caption and score every head of the language model's
    self-attention (kind ``"self"``), each layer's mean and the mean of all heads: does the row of
    each shape word (``query``: the shape noun, or the colour word before it) put its largest
    weight, among the image's patches, on a patch inside that shape? (Text keys, the ``<bos>``
    sink included, are left out of the argmax.)"""
    return grounding_by_query(model, processor, shown, (query,))[query]


def grounding_by_query(
    model: Any, processor: Any, shown: Sequence[Scene], queries: Sequence[str] = ("colour", "noun")
) -> dict[str, Grounding]:
    """``measure_grounding`` for several query rows from one capture per scene."""
    from .capturing.run import capture

    found: dict[str, dict[str, list[Any]]] = {q: {f: [] for f in Grounding.__dataclass_fields__} for q in queries}
    for scene in shown:
        c = capture(model, processor, scene.prompt, images=scene.image)
        patches = c.patches("self")
        tokens = c.kind("self").queries.tokens
        weights = c.attentions("self")[..., patches[:, 0]]  # (L, H, N, P): every row, the image's columns
        both = [inside_patches(patches, obj.mask) for obj in scene.objects]
        for query in queries:
            out = found[query]
            for k, row in enumerate(word_positions(tokens, scene, query)):
                inside, other = both[k], both[1 - k]
                w = weights[:, :, row]  # (L, H, P)
                top = w.argmax(axis=-1)  # each head's most attended patch
                top_mean = int(w.mean(axis=(0, 1)).argmax())
                out["head_hits"].append(inside[top])
                out["head_other"].append(other[top])
                out["layer_hits"].append(inside[w.mean(axis=1).argmax(axis=-1)])
                out["mean_hits"].append(bool(inside[top_mean]))
                out["mean_other"].append(bool(other[top_mean]))
                out["chance"].append(float(inside.mean()))
                out["area"].append(float(scene.objects[k].mask.mean()))
    return {q: Grounding(**{f: np.array(v) for f, v in found[q].items()}) for q in queries}
