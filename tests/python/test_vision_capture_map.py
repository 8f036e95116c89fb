"""The patch map's shape and what it promises, family by family (the tokens that are no patch have
no row, crops leave borders uncovered, tiles cover the picture, merged and pooled tokens cover
their patches), the errors of capture(images=...), and its memory check."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget, Capture, capture
from attn_widget.capturing import memory as capture_memory
from attn_widget.capturing.recorder import allowed_mask
from attn_widget.capturing.vision.geometry import Frame
from tests.support.models import tiny_family
from tests.support.vision_models import prompt, sample_image, tiny_vision, tokenizer_with

PHOTO = sample_image()  # 427 x 640
HEIGHT, WIDTH = PHOTO.shape[:2]


def captured(family: str, images: Any = PHOTO) -> Capture:
    model, processor = tiny_vision(family)
    return capture(model, processor, prompt(family, len(images) if isinstance(images, list) else 1), images=images)


def coverage(rows: np.ndarray) -> np.ndarray:
    """How many boxes cover each pixel of the photo."""
    counts = np.zeros((HEIGHT, WIDTH), np.int64)
    for x0, y0, x1, y1 in rows[:, 2:]:
        counts[y0:y1, x0:x1] += 1
    return counts


def view(c: Capture, kind: str, words: str) -> np.ndarray:
    """The patch rows of ``kind`` whose labels contain ``words`` (one view of the picture)."""
    rows = c.patches(kind)
    labels = c.kind(kind).keys.tokens
    return rows[[words in labels[t] for t in rows[:, 0]]]


def bounding(rows: np.ndarray) -> tuple[int, int, int, int]:
    return (int(rows[:, 2].min()), int(rows[:, 3].min()), int(rows[:, 4].max()), int(rows[:, 5].max()))


def test_the_patch_map_is_one_int_row_per_patch_token_and_tiles_the_picture() -> None:
    c = captured("vit")
    rows = c.patches()  # the first kind: "vision"
    assert c.kinds == ("vision",) and rows.dtype == np.int64 and rows.shape == (16, 6)
    tokens = c.kind("vision").keys.tokens
    assert tokens[0] == "<img 0: cls>" and [tokens[t] for t in rows[:4, 0]] == [f"<img 0: r0 c{i}>" for i in range(4)]
    assert (rows[:, 1] == 0).all() and list(rows[:, 0]) == list(range(1, 17))
    assert (coverage(rows) == 1).all()  # squeezed to 32 x 32, nothing cropped: every pixel in exactly one patch
    # r1 c1: 640 / 4 = 160 pixels wide; rows 106.75 to 213.5, so the pixels whose centres fall there
    assert tuple(rows[5]) == (6, 0, 160, 107, 320, 213)
    rows[0, 0] = 99
    assert c.patches()[0, 0] == 1  # a copy: the capture's map cannot be changed by accident


def test_a_center_crop_leaves_the_border_in_no_patch() -> None:
    c = captured("deit")  # 427 x 640 -> 40 x 40 -> the central 32 x 32
    rows = c.patches("vision")
    assert c.kind("vision").keys.tokens[:2] == ["<img 0: cls>", "<img 0: dist>"] and rows[0, 0] == 2
    covered = coverage(rows)
    assert covered.max() == 1
    # 4 of 40 resized pixels cut on each side: 64 of 640 columns, 42.7 of 427 rows (pixel centres decide)
    assert bounding(rows) == (64, 43, 576, 384)
    assert covered[43:384, 64:576].all() and covered.sum() == (576 - 64) * (384 - 43)


def test_registers_and_cls_are_named_and_have_no_row() -> None:
    c = captured("dinov2_registers")
    axis = c.kind("vision").keys
    assert axis.tokens[:4] == ["<img 0: cls>", "<img 0: reg 0>", "<img 0: reg 1>", "<img 0: reg 2>"]
    assert axis.special[:4] == [True] * 4 and not any(axis.special[4:])
    assert list(c.patches("vision")[:, 0]) == list(range(4, 20))


def test_llava_drops_cls_and_its_image_tokens_are_the_towers_patches() -> None:
    c = captured("llava")
    assert c.kinds == ("self", "vision")
    text, tower = c.patches("self"), c.patches("vision")
    assert list(text[:, 0]) == list(range(16))  # the 16 expanded <image> placeholders come first
    assert list(tower[:, 0]) == list(range(1, 17))  # position 0 is the tower's CLS, which the text never sees
    np.testing.assert_array_equal(text[:, 2:], tower[:, 2:])
    assert "child" in c.kind("self").keys.tokens[16:]


def test_llava_next_shows_the_base_image_then_the_unpadded_tiles_row_by_row() -> None:
    c = captured("llava_next")
    tokens = c.kind("self").keys.tokens
    base, tiles = view(c, "self", " base:"), view(c, "self", "<img 0: r")
    assert len(base) == 16 and (coverage(base) == 1).all()  # the whole picture squeezed into one tile
    # 427 x 640 -> 43 x 64 centred in 64 x 64 (2 x 2 tiles): rows of patches that are only padding are unpadded away
    assert (coverage(tiles) == 1).all()
    newlines = [i for i, t in enumerate(tokens) if t == "<img 0: newline>"]
    grid_rows = len({tokens[t].split(" c")[0] for t in tiles[:, 0]})
    assert len(newlines) == grid_rows == 6 and not set(newlines) & set(c.patches("self")[:, 0])
    assert all(tokens[n - 1].endswith("c7>") for n in newlines)  # each row of 8 patches, then its newline
    # in the tower: the base image, then 4 tiles, each with its CLS
    vision = c.kind("vision").keys.tokens
    assert [vision[i * 17] for i in range(5)] == ["<img 0 base: cls>"] + [f"<img 0 t{t}: cls>" for t in range(4)]


def test_qwen2_vl_merges_two_by_two_patches_into_each_text_token() -> None:
    c = captured("qwen2_vl")
    tower, text = c.patches("vision"), c.patches("self")
    assert len(tower) == 4 * len(text)
    # the tower sees each merge window's four patches in a row; the text token covers exactly them
    for i, row in enumerate(text):
        np.testing.assert_array_equal(row[2:], bounding(tower[4 * i : 4 * i + 4]))
    assert (coverage(tower) == 1).all() and (coverage(text) == 1).all()
    assert c.kind("vision").keys.tokens[:4] == ["<img 0: r0 c0>", "<img 0: r0 c1>", "<img 0: r1 c0>", "<img 0: r1 c1>"]


def test_qwen2_5_vl_keeps_its_tower_in_window_order_and_the_text_in_reading_order() -> None:
    c = captured("qwen2_5_vl")
    tower, text = c.patches("vision"), c.patches("self")
    assert (coverage(tower) == 1).all() and (coverage(text) == 1).all()
    labels = c.kind("self").keys.tokens
    shown = [labels[t] for t in text[:, 0]]
    assert shown[:2] == ["<img 0: r0-1 c0-1>", "<img 0: r0-1 c2-3>"]  # reading order
    windowed, full = c.kind("vision").calls
    assert windowed.mask is not None and full.mask is None  # windows in layer 0, the whole picture in layer 1


def test_gemma3_pools_patches_and_wraps_them_in_image_markers() -> None:
    c = captured("gemma3")
    tower, text = c.patches("vision"), c.patches("self")
    labels = c.kind("self").keys.tokens
    assert len(tower) == 64 and len(text) == 16 and labels[text[0, 0] - 1] == "<start_of_image>"
    assert labels[text[-1, 0] + 1] == "<end_of_image>"
    first = tower[[0, 1, 8, 9]]  # the 2 x 2 patches pooled into the first token
    np.testing.assert_array_equal(text[0, 2:], bounding(first))


def test_idefics3_tiles_cover_the_picture_once_and_the_global_image_again() -> None:
    c = captured("idefics3")
    tiles, whole = view(c, "vision", "<img 0: r"), view(c, "vision", " global:")
    assert len(tiles) == 6 * 16 and len(whole) == 16  # 2 x 3 tiles of 4 x 4 patches, and the global image
    assert (coverage(tiles) == 1).all() and (coverage(whole) == 1).all()
    labels = c.kind("self").keys.tokens
    assert labels[:3] == ["<fake_token_around_image>", "<row_1_col_1>", "<img 0: r0-1 c0-1>"]
    assert "<global-img>" in labels and len(c.patches("self")) == 7 * 4


def test_mllama_crosses_from_text_to_the_tiles_and_its_padding_has_no_row() -> None:
    c = captured("mllama")
    assert c.kinds == ("self", "cross", "vision") and len(c.patches("self")) == 0
    assert c.kind("cross").label == "cross-attention (text queries, image keys)"
    keys = c.kind("cross").keys.tokens
    assert [keys[t * 17] for t in range(4)] == [f"<img 0 t{t}: cls>" for t in range(4)]  # 2 x 2 tiles, CLS first
    rows = c.patches("cross")
    assert (coverage(rows) == 1).all()  # 427 x 640 -> 43 x 64 on a 64 x 64 canvas: every pixel in one patch
    unmapped = [k for k in keys if k.startswith("<img 0: r") and k not in {keys[t] for t in rows[:, 0]}]
    assert len(rows) == 48 and len(unmapped) == 16  # patch rows 6 and 7 are all canvas padding
    assert all(k.startswith(("<img 0: r6 ", "<img 0: r7 ")) for k in unmapped)
    vision = c.kind("vision").keys
    assert len(vision) == 4 * 24  # four tiles of CLS + 16 patches + 7 padding positions (a multiple of 8)
    assert vision.tokens[17:24] == ["<img 0 t0: pad>"] * 7


def test_two_pictures_are_told_apart_by_their_index() -> None:
    flower = sample_image("flower.jpg")
    c = captured("llava", [PHOTO, flower])
    rows = c.patches("self")
    assert list(np.unique(rows[:, 1])) == [0, 1] and (rows[rows[:, 1] == 1, 0] >= 16).all()
    assert c.kind("self").keys.tokens[rows[rows[:, 1] == 1, 0][0]] == "<img 1: r0 c0>"


def test_text_has_no_patch_rows() -> None:
    model, tokenizer = tiny_family("gpt2")
    c = capture(model, tokenizer, "The cat sat on the mat.")
    assert c.patches().shape == (0, 6) and c.patches().dtype == np.int64


def test_a_vision_capture_opens_in_the_widget_on_any_of_its_kinds() -> None:
    w = AttentionWidget(captured("llava"))
    assert [k["id"] for k in w.kinds] == ["self", "vision"] and w.tokens[0] == "<img 0: r0 c0>"
    w.kind = "vision"
    assert w.n_tokens == 17 and w.tokens[0] == "<img 0: cls>"


# -------------------------------------------------------------------------------------- geometry
def test_frames_follow_resize_crop_and_pad_exactly() -> None:
    frame = Frame.of_image(427, 640).resized(40, 40).cropped(4, 4, 32, 32)
    assert frame.box(0, 0, 8, 8) == (64, 43, 192, 128)  # resized rows 4-12 of 40: 42.7-128.1 of 427
    assert frame.box(-4, -4, 0, 0) == (0, 0, 64, 43)  # the border the crop cut off
    padded = Frame.of_image(10, 20).padded(5, 0, 20, 20)  # LLaVA-NeXT style: 5 rows of padding on top
    assert padded.box(0, 0, 5, 20) is None and padded.box(5, 0, 15, 20) == (0, 0, 20, 10)
    assert padded.box(0, 0, 8, 4) == (0, 0, 4, 3)  # a patch half on padding covers its real part only


# ---------------------------------------------------------------------------------------- errors
def test_what_cannot_be_mapped_is_refused_by_name() -> None:
    model, processor = tiny_vision("llava_onevision_shrunk")  # allowed one tile's worth: a 2 x 2 grid is interpolated
    with pytest.raises(NotImplementedError, match=r"LLaVA-OneVision shrinks image 0's grid of 6 x 8 patches by bilinear"):
        capture(model, processor, prompt("llava_onevision_shrunk"), images=PHOTO)
    gpt2, tokenizer = tiny_family("gpt2")
    with pytest.raises(NotImplementedError, match="does not know how gpt2 turns pixels into tokens"):
        capture(gpt2, tokenizer, "a picture", images=PHOTO)
    from attn_widget.capturing.vision.gemma import gemma3_layout
    from attn_widget.capturing.vision.layout import VisionInputs

    gemma, _ = tiny_vision("gemma3")
    with pytest.raises(NotImplementedError, match="pan-and-scan crops are not mapped"):
        gemma3_layout(VisionInputs(gemma.config, None, [(427, 640)], {"num_crops": torch.tensor([2])}))


def test_llava_onevision_sees_pictures_given_together_whole() -> None:
    """Given as one group (a nested list), OneVision's pictures are padded to squares, untiled."""
    from attn_widget.capturing.images import as_pil
    from attn_widget.capturing.vision.families import layout_of
    from attn_widget.capturing.vision.layout import VisionInputs

    model, processor = tiny_vision("llava_onevision")
    flower = sample_image("flower.jpg")
    encoded = dict(processor(text=prompt("llava_onevision", 2), images=[[as_pil(PHOTO), as_pil(flower)]], return_tensors="pt"))
    layout = layout_of(VisionInputs(model.config, processor.image_processor, [PHOTO.shape[:2], flower.shape[:2]], encoded))
    ids = encoded["input_ids"][0].tolist()
    assert ids.count(model.config.image_token_id) == len(layout.features) == 2 * (16 + 1)  # 4 x 4 patches + newline
    assert [len(s) for s in layout.tower] == [16, 16]
    rows = [t.box for t in layout.tower[0]]
    # 427 x 640 centred on a 640 x 640 square (106 rows of padding above): the first patch's 160
    # rows are mostly padding, and only the photo's rows 0-53 are in it
    assert rows[0] == (0, 0, 160, 54)
    assert bounding(np.array([[0, 0, *b] for b in rows if b is not None])) == (0, 0, WIDTH, HEIGHT)


@pytest.mark.parametrize(
    "family, text, images, error, message",
    [
        ("llava", None, PHOTO, ValueError, "reads text with its pictures: give text="),
        ("vit", "a cat", PHOTO, ValueError, "reads pictures only"),
        ("llava", ["<image> a", "<image> b"], PHOTO, TypeError, "one str"),
        ("vit", None, PHOTO.astype(np.float32), TypeError, "must be uint8"),
        ("vit", None, PHOTO[:, :, 0], ValueError, r"shape \(height, width, 3\)"),
        ("vit", None, "china.jpg", TypeError, "PIL image or an H x W x 3 uint8"),
        ("vit", None, [], ValueError, "images is empty"),
        ("vit", None, [PHOTO, "x"], TypeError, r"images\[1\]"),
    ],
)
def test_bad_inputs_get_errors_that_say_what_to_do(family: str, text: Any, images: Any, error: type, message: str) -> None:
    model, processor = tiny_vision(family)
    with pytest.raises(error, match=message):
        capture(model, processor, text, images=images)


def test_a_tokenizer_or_text_arguments_are_not_enough_for_pictures() -> None:
    model, processor = tiny_vision("llava")
    with pytest.raises(TypeError, match="need an image processor or a processor"):
        capture(model, processor.tokenizer, prompt("llava"), images=PHOTO)
    with pytest.raises(ValueError, match="example is for text inputs"):
        capture(model, processor, prompt("llava"), images=PHOTO, example=0)
    vit, image_processor = tiny_vision("vit")
    from transformers import ConvNextImageProcessorPil

    with pytest.raises(NotImplementedError, match="does not know how ConvNextImageProcessorPil prepares pictures"):
        capture(vit, ConvNextImageProcessorPil(size={"shortest_edge": 32}), images=PHOTO)


def test_a_float_bias_in_the_mask_is_refused_and_zero_or_minus_infinity_is_read() -> None:
    low = torch.finfo(torch.float32).min
    mask = torch.tensor([[[[0.0, low], [0.0, 0.0]]]])
    assert allowed_mask(mask).tolist() == [[[[True, False], [True, True]]]]
    with pytest.raises(NotImplementedError, match="float bias"):
        allowed_mask(mask - 1.0)


# ---------------------------------------------------------------------------------------- memory
def test_the_vision_towers_queries_keys_and_block_mask_are_predicted_to_the_byte() -> None:
    model, _ = tiny_vision("llava_next")
    c = captured("llava_next")
    vision = c.kind("vision")
    sequences = [17] * 5  # the base image and four tiles, each CLS + 16 patches
    need = capture_memory.vision_need(model.config, sequences, 4)
    assert need is not None and need.kept == vision.nbytes == 2 * 85 * (4 + 4) * 8 * 4 + 85 * 85


def test_a_picture_that_would_not_fit_is_refused_before_the_model_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    model, processor = tiny_vision("llava_next")
    runs: list[int] = []
    hook = model.register_forward_pre_hook(lambda *_: runs.append(1))
    try:
        text_only = capture_memory.capture_need(model.config.get_text_config(), 80, 4)
        assert text_only is not None
        monkeypatch.setattr(capture_memory, "available_bytes", lambda device: text_only.total)
        with pytest.raises(MemoryError, match="80 text tokens and 85 vision positions would need .* fewer or smaller images"):
            capture(model, processor, prompt("llava_next"), images=PHOTO)
        assert runs == []  # refused before the forward pass: the text alone fits, the pictures do not
    finally:
        hook.remove()


def test_tokenizer_helper_adds_named_tokens() -> None:
    tokenizer = tokenizer_with(["<image>"], boi_token="<start_of_image>")
    assert tokenizer.boi_token == "<start_of_image>" and "<image>" in tokenizer.get_vocab()


# ------------------------------------------------------------------------------------ real sizes
def real_size(family: str) -> tuple[Any, Any, str]:
    """(config, processor, text) with the sizes of released checkpoints (no model is built)."""
    import transformers as tf
    from transformers.processing_utils import ProcessorMixin

    clip336 = dict(model_type="clip_vision_model", image_size=336, patch_size=14)
    if family == "llava":
        tokenizer = tokenizer_with(["<image>"])
        images = tf.LlavaImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
        processor = tf.LlavaProcessor(
            images, tokenizer, patch_size=14, vision_feature_select_strategy="default", num_additional_image_tokens=1
        )
        config = tf.LlavaConfig(vision_config=clip336, image_token_index=tokenizer.convert_tokens_to_ids("<image>"))
        return config, processor, "<image> what is this?"
    if family == "llava_next":
        tokenizer = tokenizer_with(["<image>"])
        images = tf.LlavaNextImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
        processor = tf.LlavaNextProcessor(
            images, tokenizer, patch_size=14, vision_feature_select_strategy="default", num_additional_image_tokens=1
        )
        config = tf.LlavaNextConfig(vision_config=clip336, image_token_index=tokenizer.convert_tokens_to_ids("<image>"))
        return config, processor, "<image> what is this?"
    if family == "qwen2_vl":
        tokenizer = tokenizer_with(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"])
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg))
            processor = tf.Qwen2VLProcessor(tf.Qwen2VLImageProcessorPil(), tokenizer, video_processor=None)
        config = tf.Qwen2VLConfig(image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"))
        return config, processor, "<|vision_start|><|image_pad|><|vision_end|>what is this?"
    if family == "gemma3":
        tokenizer = tokenizer_with([], boi_token="<start_of_image>", eoi_token="<end_of_image>", image_token="<image_soft_token>")
        processor = tf.Gemma3Processor(
            tf.Gemma3ImageProcessorPil(size={"height": 896, "width": 896}), tokenizer, image_seq_length=256
        )
        config = tf.Gemma3Config(
            vision_config=dict(model_type="siglip_vision_model", image_size=896, patch_size=14),
            image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
        )
        return config, processor, "<start_of_image> what is this?"
    if family == "paligemma":
        tokenizer = tokenizer_with(["<image>"])
        images = tf.SiglipImageProcessorPil(size={"height": 224, "width": 224})
        images.image_seq_length = 256
        processor = tf.PaliGemmaProcessor(images, tokenizer)
        config = tf.PaliGemmaConfig(
            vision_config=dict(model_type="siglip_vision_model", image_size=224, patch_size=14),
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        )
        return config, processor, "<image>what is this?"
    if family == "idefics3":
        rows_cols = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
        tokenizer = tokenizer_with(["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *rows_cols])
        processor = tf.Idefics3Processor(tf.Idefics3ImageProcessorPil(), tokenizer, image_seq_len=169)
        config = tf.Idefics3Config(
            vision_config=dict(image_size=364, patch_size=14), image_token_id=tokenizer.convert_tokens_to_ids("<image>")
        )
        return config, processor, "<image>what is this?"
    assert family == "mllama"
    tokenizer = tokenizer_with(["<|image|>", "<|python_tag|>"])
    processor = tf.MllamaProcessor(tf.MllamaImageProcessorPil(size={"height": 560, "width": 560}), tokenizer)
    config = tf.MllamaConfig(vision_config=dict(image_size=560, patch_size=14))
    return config, processor, "<|image|>what is this?"


@pytest.mark.parametrize("family", ["llava", "llava_next", "qwen2_vl", "gemma3", "paligemma", "idefics3", "mllama"])
@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_at_real_sizes_the_layout_agrees_with_the_processors_own_count(family: str, shape: str) -> None:
    """The processor expands each placeholder into as many image tokens as it computes; at the
    sizes of released checkpoints (CLIP 336/14 tiles, 896 px Gemma 3, 364 px Idefics3 tiles, 560 px
    Mllama tiles, Qwen2-VL's default pixel budget) the layout must name as many, each with a box."""
    from attn_widget.capturing.images import as_pil
    from attn_widget.capturing.vision.families import layout_of
    from attn_widget.capturing.vision.layout import VisionInputs

    picture = PHOTO if shape == "landscape" else np.ascontiguousarray(PHOTO.transpose(1, 0, 2))
    config, processor, text = real_size(family)
    encoded = {k: v for k, v in processor(text=text, images=as_pil(picture), return_tensors="pt").items() if k != "labels"}
    layout = layout_of(VisionInputs(config, processor.image_processor, [picture.shape[:2]], encoded))
    ids = encoded["input_ids"][0].tolist()
    if family == "mllama":  # one <|image|> token; the text reaches the tiles by cross-attention
        assert layout.cross is not None and len(layout.cross) == 4 * 1601  # 4 tiles x (CLS + 40 x 40 patches)
        assert [len(s) for s in layout.tower] == [4 * 1608]  # padded to a multiple of 8 per tile
        counts = np.zeros(picture.shape[:2], np.int64)
        for token in layout.cross:
            if token.box is not None:
                x0, y0, x1, y1 = token.box
                counts[y0:y1, x0:x1] += 1
        assert (counts == 1).all()  # the tiles' patches cover the picture once; the canvas's padding is no pixel
        return
    image_id = config.image_token_id
    assert ids.count(image_id) == len(layout.features) > 0
    pixels = encoded["pixel_values"]
    tower = {  # the vision tower's positions, from what the processor made
        "llava": lambda: 577,  # CLS + 24 x 24
        "llava_next": lambda: int(pixels.shape[1]) * 577,  # base image and tiles
        "qwen2_vl": lambda: int(pixels.shape[0]),  # one row per patch
        "gemma3": lambda: 4096,  # 64 x 64
        "paligemma": lambda: 256,  # 16 x 16
        "idefics3": lambda: int(pixels.shape[1]) * 676,  # tiles and the global image, 26 x 26 each
    }[family]()
    assert sum(len(s) for s in layout.tower) == tower
    covered = np.zeros(picture.shape[:2], bool)
    for token in layout.features:
        if token.box is not None:
            x0, y0, x1, y1 = token.box
            covered[y0:y1, x0:x1] = True
    assert covered.all() or family == "llava"  # LLaVA's center crop leaves the long side's ends out


@pytest.mark.parametrize("family", ["llava_next", "mllama"])
def test_a_bfloat16_model_gives_float32_heads_close_to_its_float32_twin(family: str) -> None:
    """Pixels go in in the model's dtype; Mllama's additive masks are read in bfloat16 too."""
    import copy

    model, processor = tiny_vision(family)
    half = copy.deepcopy(model).to(torch.bfloat16)
    exact = captured(family)
    rounded = capture(half, processor, prompt(family), images=PHOTO)
    assert rounded.kinds == exact.kinds
    for kind in exact.kinds:
        got = rounded.attentions(kind)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(got, exact.attentions(kind), atol=0.03)
