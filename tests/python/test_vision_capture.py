"""capture(images=...): pixels are tokens. For every supported family, built tiny with its real
processor classes: every head of every kind (``vision``, ``self``, ``cross``) equals eager
attention to 1e-5, and the patch map is checked by the model itself: changing the pixels of one
patch's region of the original photo changes exactly the tokens the map says cover it."""

from __future__ import annotations

import sys
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch

from attn_widget import Capture, capture
from attn_widget.capturing.images import as_pil
from tests.support.vision_models import VISION_FAMILIES, prompt, sample_image, tiny_vision

PHOTO = sample_image()  # 427 x 640 x 3: a real photo, so resizing and cropping have work to do
PICTURES = {
    "landscape": [PHOTO],
    "late": [PHOTO],  # the prompt's first words come before the picture
    "portrait": [np.ascontiguousarray(PHOTO.transpose(1, 0, 2))],  # 640 x 427: the other way round
    "two": [PHOTO, sample_image("flower.jpg")[:300, 100:]],  # two pictures in one prompt
}
# Every family on the landscape photo; the tiled and dynamic ones on a portrait too, and some
# with two pictures (a batch of images in the tower, chunks in Qwen2-VL's).
CASES = [(f, "landscape") for f in VISION_FAMILIES] + [
    ("llava_padded", "landscape"),
    ("deit", "portrait"),
    ("llava_next", "portrait"),
    ("qwen2_vl", "portrait"),
    ("idefics3", "portrait"),
    ("mllama", "portrait"),
    ("vit", "two"),
    ("llava_next", "two"),
    ("llava_onevision", "portrait"),
    ("llava_onevision", "two"),  # several pictures: each one whole, no tiles
    ("qwen2_vl", "two"),
    ("qwen2_5_vl", "two"),
    ("idefics3", "two"),
    ("mllama", "two"),
    ("mllama", "late"),  # the words before the picture may not attend to it: Mllama's masked rows
    ("paligemma", "late"),
]


def captured(family: str, case: str, pictures: list[np.ndarray] | None = None) -> Capture:
    """The capture of ``case``'s pictures (or ``pictures`` in their place)."""
    model, processor = tiny_vision(family)
    shown = PICTURES[case] if pictures is None else pictures
    return capture(model, processor, prompt(family, len(shown), late=case == "late"), images=shown)


def processed(family: str, case: str) -> dict[str, Any]:
    """What the family's processor makes of the case's pictures (the model's inputs)."""
    _, processor = tiny_vision(family)
    pictures = PICTURES[case]
    images = [as_pil(p) for p in pictures]
    kwargs: dict[str, Any] = {"images": images[0] if len(images) == 1 else images, "return_tensors": "pt"}
    text = prompt(family, len(pictures), late=case == "late")
    if text is not None:
        kwargs["text"] = text
    return {k: v for k, v in processor(**kwargs).items() if k != "labels"}


def eager_calls(model: Any, inputs: dict[str, Any]) -> tuple[list[tuple[str, torch.Tensor]], Any]:
    """Every attention call's weights when the model runs eagerly with output_attentions=True:
    (module name, (batch, heads, Nq, Nk)) in call order, read from the eager attention function of
    each modeling module the model uses, and the model's outputs."""
    names = {id(m): n for n, m in model.named_modules()}
    modules = {sys.modules[type(m).__module__] for m in model.modules()}
    seen: list[tuple[str, torch.Tensor]] = []
    patches = []
    for module in modules:
        original = getattr(module, "eager_attention_forward", None)
        if original is None:
            continue

        def recorded(attention: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            out, weights = _original(attention, *args, **kwargs)
            seen.append((names[id(attention)], weights.detach().clone()))
            return out, weights

        patches.append(mock.patch.object(module, "eager_attention_forward", recorded))
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        for p in patches:
            p.start()
        with torch.no_grad():
            outputs = model(**inputs, output_attentions=True, use_cache=False)
    finally:
        for p in patches:
            p.stop()
        model.set_attn_implementation(before)
    return seen, outputs


def reference_kind(name: str, text_model: bool) -> str:
    parts = set(name.split("."))
    if not text_model or parts & {"vision_tower", "vision_model", "visual"}:
        return "vision"
    return "cross" if "cross_attn" in parts else "self"


def reference(calls: list[tuple[str, torch.Tensor]], text_model: bool) -> dict[str, np.ndarray]:
    """{kind: (L, H, N, N)}: each layer's calls (batch rows, chunks) side by side, zeros between."""
    layers: list[tuple[str, list[torch.Tensor]]] = []
    for name, weights in calls:
        blocks = list(weights.unbind(0))  # one block per batch row
        if layers and layers[-1][0] == name:
            layers[-1][1].extend(blocks)
        else:
            layers.append((name, blocks))
    kinds: dict[str, list[np.ndarray]] = {}
    for name, blocks in layers:
        heads = blocks[0].shape[0]
        n_q, n_k = sum(b.shape[1] for b in blocks), sum(b.shape[2] for b in blocks)
        dense = np.zeros((heads, n_q, n_k), np.float32)
        q0 = k0 = 0
        for b in blocks:
            dense[:, q0 : q0 + b.shape[1], k0 : k0 + b.shape[2]] = b.float().numpy()
            q0, k0 = q0 + b.shape[1], k0 + b.shape[2]
        kinds.setdefault(reference_kind(name, text_model), []).append(dense)
    return {k: np.stack(v) for k, v in kinds.items()}


@pytest.mark.parametrize("family, pictures", CASES)
def test_every_head_of_every_kind_equals_eager_attention(family: str, pictures: str) -> None:
    model, _ = tiny_vision(family)
    c = captured(family, pictures)
    assert model.config._attn_implementation == "sdpa"  # restored
    inputs = processed(family, pictures)
    calls, outputs = eager_calls(model, inputs)
    expected = reference(calls, text_model="input_ids" in inputs)
    assert set(c.kinds) == set(expected)
    for kind, ref in expected.items():
        got = c.attentions(kind)
        assert got.shape == ref.shape and got.dtype == np.float32, kind
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0, err_msg=f"{family} {kind}")
    if "self" in c.kinds:  # the language model's heads are also what the model itself returns
        n = c.shape("self")[3]
        own = outputs.attentions if hasattr(outputs, "attentions") else outputs.text_model_output.attentions  # CLIP
        returned = [a for a in own if a.shape[-2:] == (n, n)]  # Mllama's cross-attention is not square
        np.testing.assert_allclose(c.attentions("self"), torch.cat(returned).numpy(), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------- one patch
# How many processed pixels PIL's resampling filters reach from a pixel's centre (downscaling
# stretches the reach by the scale), by PILImageResampling value: NEAREST 0, LANCZOS 1, BILINEAR 2,
# BICUBIC 3, BOX 4, HAMMING 5.
FILTER_RADIUS = {0: 0.5, 1: 3.0, 2: 1.0, 3: 2.0, 4: 0.5, 5: 1.0}

# Views that pass through two resizes (Idefics3's global image: the picture resized, then the
# result squeezed into one tile, both with Lanczos): a pixel change spreads further than one
# patch there, so its neighbours may change too. Everywhere else the change must stay in the
# tokens the map names.
SPREADS = {"idefics3": " global:", "smolvlm": " global:"}


def silenced(model: Any, vision_modules: list[str]) -> list[Any]:
    """Zero the output of the vision tower's attention, so that each image feature depends on its
    own patch only (patchify, norms, MLPs, projector, pooling, merging and placement stay the
    model's own). Returns the hooks to remove."""

    def zero(module: Any, args: Any, out: Any) -> Any:
        if isinstance(out, tuple):
            return (torch.zeros_like(out[0]), *out[1:])
        return torch.zeros_like(out)

    return [model.get_submodule(name).register_forward_hook(zero) for name in dict.fromkeys(vision_modules)]


def margin(box: np.ndarray, patch: int, radius: float) -> tuple[float, float]:
    """How far (x, y, original pixels) a changed pixel reaches through the resize of this box's view."""
    x0, y0, x1, y1 = box
    return radius * max(1.0, (x1 - x0) / patch) + 1, radius * max(1.0, (y1 - y0) / patch) + 1


# Where to change the photo (fractions of its width and height): away from the corners and off
# the diagonal, so a map with rows and columns swapped, or tiles out of order, names other tokens.
TARGETS = ((0.7, 0.3), (0.25, 0.7))


def quiet_points(
    rows: np.ndarray, labels: list[str], patch: int, radius: float, loose: str | None, size: tuple[int, int]
) -> list[tuple[int, int]]:
    """Pixels of a ``size`` picture deep inside every patch that contains them (in every view but
    a loose one), so that a change there reaches no other patch: for each target, the nearest."""
    height, width = size
    strict = np.array([r for r in rows if not (loose and loose in labels[r[0]])])
    ys, xs = np.mgrid[2 : height - 2, 2 : width - 2]
    slack = np.full(xs.shape, np.inf)
    inside = np.zeros(xs.shape, bool)
    for x0, y0, x1, y1 in strict[:, 2:]:
        mx, my = margin(np.array([x0, y0, x1, y1]), patch, radius)
        here = (x0 <= xs) & (xs < x1) & (y0 <= ys) & (ys < y1)
        room = np.minimum(np.minimum(xs - x0 - mx, x1 - xs - mx), np.minimum(ys - y0 - my, y1 - ys - my))
        slack = np.where(here, np.minimum(slack, room), slack)
        inside |= here
    quiet = inside & (slack > 1)
    points = []
    for fx, fy in TARGETS:
        distance = np.where(quiet, (xs - fx * width) ** 2 + (ys - fy * height) ** 2, np.inf)
        at = np.unravel_index(np.argmin(distance), distance.shape)
        assert np.isfinite(distance[at]), "no pixel is deep enough inside its patches"
        points.append((int(xs[at]), int(ys[at])))
    return points


def covering(rows: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> set[int]:
    return {int(r[0]) for r in rows if r[2] < x1 and x0 < r[4] and r[3] < y1 and y0 < r[5]}


def changed_positions(a: Capture, b: Capture, kind: str) -> set[int]:
    """Positions whose first-layer keys differ: keys are a per-position function of the layer's
    input, so these are the positions whose input embedding the pixel change reached."""
    ka, kb = a.kind(kind).calls[0].k, b.kind(kind).calls[0].k
    return {int(i) for i in torch.nonzero((ka - kb).abs().amax(dim=(0, 2)) > 1e-5).flatten()}


@pytest.mark.parametrize("family, pictures", CASES)
def test_changing_one_patch_of_the_photo_changes_the_tokens_the_map_names(family: str, pictures: str) -> None:
    model, processor = tiny_vision(family)
    photos = PICTURES[pictures]
    before = captured(family, pictures)
    vision = before.kind("vision")
    hooks = silenced(model, [call.module_name for call in vision.calls])
    try:
        original = captured(family, pictures)
        image_processor = getattr(processor, "image_processor", processor)
        patch = int(getattr(model.config, "vision_config", model.config).patch_size)
        radius = FILTER_RADIUS[int(image_processor.resample)]
        loose = SPREADS.get(family)
        rows = original.patches("vision")
        shown = rows[rows[:, 1] == len(photos) - 1]  # the last picture: its tokens come after the others'
        points = quiet_points(shown, vision.keys.tokens, patch, radius, loose, photos[-1].shape[:2])
        changed = photos[-1].copy()
        for x, y in points:
            changed[y - 1 : y + 2, x - 1 : x + 2] += 128  # uint8: wraps, every value moves by half the range
        after = captured(family, pictures, [*photos[:-1], changed])
    finally:
        for hook in hooks:
            hook.remove()
    checked = 0
    for kind in original.kinds:
        rows = original.patches(kind)
        rows = rows[rows[:, 1] == len(photos) - 1]
        if not len(rows):
            continue
        labels = original.kind(kind).keys.tokens
        named = set().union(*(covering(rows, x - 1, y - 1, x + 2, y + 2) for x, y in points))
        moved = changed_positions(original, after, kind)
        assert len(named) >= len(points), f"{family} {kind}: no token covers {points}"
        strict = {t for t in named if not (loose and loose in labels[t])}
        if strict == named:
            assert moved == named, f"{family} {kind}: pixels at {points} moved {sorted(moved)}, the map names {sorted(named)}"
        else:  # a loose view: its tokens must move, and may pull neighbours within the filter's reach
            reach = [margin(rows[rows[:, 0] == t][0, 2:], patch, radius) for t in named - strict]
            dx, dy = max(m[0] for m in reach), max(m[1] for m in reach)
            near = set().union(
                *(covering(rows, x - 1 - 2 * dx, y - 1 - 2 * dy, x + 2 + 2 * dx, y + 2 + 2 * dy) for x, y in points)
            )
            assert named <= moved, f"{family} {kind}: {sorted(named - moved)} named but unchanged"
            spilled = moved - named
            assert spilled <= near and all(loose in labels[t] for t in spilled), f"{family} {kind}: {sorted(spilled)}"
        checked += 1
    assert checked == len([k for k in before.kinds if len(before.patches(k))])
    assert all(len(original.patches(k)) == len(after.patches(k)) for k in original.kinds)
