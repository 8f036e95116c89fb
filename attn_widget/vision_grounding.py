"""The vision demo's grounding measurement (what training.json records, docs/vision.md): for each
object a caption names, does the row of a word that names it look at that object's patches?

Two readings of one row, both on the image's patches only (text keys, the ``<bos>`` sink
included, are left out of the argmax and counted apart in the mass):

- a **hit**: the patch with the row's largest weight is inside the named shape;
- the **mass**: the share of the row's weight that falls on patches inside the named shape.

Each has its controls: the same reading on the scene's OTHER shape (a head that finds shapes
without telling them apart scores as much there), and on the untrained model (``untrained_vision_model``).
The measurement reads the same capture the widget shows (``capture(model, processor, text, images=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .vision_demo import QUERIES, Scene, word_positions

#: a patch is "inside" a shape when at least this fraction of its pixels lie in the shape's mask
INSIDE = 0.5


@dataclass(frozen=True)
class Grounding:
    """Where the shape words look, over ``n`` shape words (two per scene).

    ``head_hits`` (n, L, H) bool: the patch head (l, h) attends to most (of the image's patches)
    from the word's row is inside the word's shape. ``mean_hits`` (n,) the same for the mean of
    every head of every layer, ``layer_hits`` (n, L) for each layer's mean over heads.
    ``head_mass`` (n, L, H): the share of the row's weight on patches inside the word's shape;
    ``picture_mass`` (n, L, H): the share on all of the image's patches. The ``*_other`` arrays say
    the same of the scene's OTHER shape. ``chance`` (n,): the fraction of the image's patches that
    are inside the shape (what a patch picked at random scores); ``area`` (n,): the fraction of the
    picture's pixels the shape covers."""

    head_hits: np.ndarray
    mean_hits: np.ndarray
    layer_hits: np.ndarray
    head_other: np.ndarray
    mean_other: np.ndarray
    head_mass: np.ndarray
    head_mass_other: np.ndarray
    picture_mass: np.ndarray
    chance: np.ndarray
    area: np.ndarray

    def head_rate(self, layer: int, head: int) -> float:
        """The share of the words whose head (layer, head) hits the named shape."""
        return float(self.head_hits[:, layer, head].mean())

    def best_head(self) -> tuple[int, int]:
        """The head with the highest hit rate here (first in layer, head order on ties)."""
        rates = self.head_hits.mean(axis=0)
        layer, head = np.unravel_index(int(rates.argmax()), rates.shape)
        return int(layer), int(head)

    def mass(self, layer: int | None = None, head: int | None = None, *, other: bool = False) -> float:
        """The mean share of a row's weight on the named shape's patches (``other``: on the other
        shape's), for one head, or averaged over every head when ``layer`` and ``head`` are None."""
        values = self.head_mass_other if other else self.head_mass
        return float(values.mean() if layer is None or head is None else values[:, layer, head].mean())


def inside_patches(patches: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(P,) bool: which patches of a capture's patch map (rows token, image, x0, y0, x1, y1) have
    at least INSIDE of their pixels in ``mask``."""
    inside = np.zeros(len(patches), dtype=bool)
    for i, (_, _, x0, y0, x1, y1) in enumerate(patches.tolist()):
        region = mask[y0:y1, x0:x1]
        inside[i] = region.size > 0 and region.mean() >= INSIDE
    return inside


def measure_grounding(model: Any, processor: Any, shown: Sequence[Scene], query: str = "noun") -> Grounding:
    """Capture each scene with its caption and score every head of the language model's
    self-attention (kind ``"self"``), each layer's mean and the mean of all heads, for the row of
    each shape word (``query``: the shape noun, or the colour word before it)."""
    return grounding_by_query(model, processor, shown, (query,))[query]


def grounding_by_query(
    model: Any, processor: Any, shown: Sequence[Scene], queries: Sequence[str] = QUERIES
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
                out["head_mass"].append(w[..., inside].sum(axis=-1))
                out["head_mass_other"].append(w[..., other].sum(axis=-1))
                out["picture_mass"].append(w.sum(axis=-1))
                out["chance"].append(float(inside.mean()))
                out["area"].append(float(scene.objects[k].mask.mean()))
    return {q: Grounding(**{f: np.array(v) for f, v in found[q].items()}) for q in queries}
