"""Tiny vision and vision-language models for tests, built offline: random weights from small
configs, and each family's REAL processor classes constructed with arguments (the PIL backends,
which need no torchvision). The text side is a byte-level BPE tokenizer trained here (as in
models.py) plus the special tokens each processor needs.

``tiny_vision(family)`` returns ``(model, processor)``; ``prompt(family, n)`` a prompt with the
family's image placeholder for each of ``n`` pictures (None for vision-only models)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from unittest import mock

from tests.support.models import CORPUS

PROMPT = "A child painted a picture of a horse."

#: the families (and variants) built here
VISION_FAMILIES = (
    "vit",
    "deit",
    "dinov2_registers",
    "clip_vision",
    "clip",
    "siglip_vision",
    "llava",
    "llava_next",
    "llava_onevision",
    "qwen2_vl",
    "qwen2_5_vl",
    "gemma3",
    "paligemma",
    "idefics3",
    "smolvlm",
    "mllama",
)


def sample_image(name: str = "china.jpg") -> Any:
    """A real photograph (427 x 640 x 3 uint8) bundled with scikit-learn."""
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def tokenizer_with(special: list[str], **named: str) -> Any:
    """A fresh byte-level BPE tokenizer with ``special`` tokens added (and ``named`` ones, which
    also become attributes such as ``tokenizer.image_token``)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 20, vocab_size=400, min_frequency=1, special_tokens=["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=named or None,
    )
    extra = [t for t in [*special, *named.values()] if t not in tokenizer.get_vocab()]
    tokenizer.add_special_tokens({"additional_special_tokens": extra}, replace_extra_special_tokens=False)
    return tokenizer


# Vision towers: 2 layers, 4 heads of width 8; patches of 8 pixels, so a changed pixel spreads to
# one patch only when it lies well inside it (see the one-patch test).
VISION = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, patch_size=8)


def _text(vocab: int, **extra: Any) -> dict[str, Any]:
    return dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=vocab,
        **extra,
    )


def _vit() -> tuple[Any, Any, None]:
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    processor = ViTImageProcessorPil(size={"height": 32, "width": 32})  # the photo squeezed to a square
    return ViTModel._from_config(ViTConfig(image_size=32, **VISION)), processor, None


def _deit() -> tuple[Any, Any, None]:
    from transformers import DeiTConfig, DeiTImageProcessorPil, DeiTModel

    # resize to 40 x 40, then a 32 x 32 center crop: the border belongs to no patch
    processor = DeiTImageProcessorPil(size={"height": 40, "width": 40}, crop_size={"height": 32, "width": 32})
    return DeiTModel._from_config(DeiTConfig(image_size=32, **VISION)), processor, None


def _dinov2_registers() -> tuple[Any, Any, None]:
    from transformers import BitImageProcessorPil, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    # DINOv2's processor: the shorter edge to 40, then a 32 x 32 center crop
    processor = BitImageProcessorPil(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32})
    config = Dinov2WithRegistersConfig(image_size=32, num_register_tokens=3, **VISION)
    return Dinov2WithRegistersModel._from_config(config), processor, None


def _clip_vision() -> tuple[Any, Any, None]:
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel

    processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return CLIPVisionModel._from_config(CLIPVisionConfig(image_size=32, **VISION)), processor, None


def _clip() -> tuple[Any, Any, str]:
    """CLIP with both towers: the text's self-attention and the picture's, side by side."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor
    from transformers.processing_utils import ProcessorMixin

    tokenizer = tokenizer_with([])
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    # CLIPProcessor checks for CLIP's own tokenizer class; ours is a byte-level BPE built here
    with mock.patch.object(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg)):
        processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)
    text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=len(tokenizer))
    config = CLIPConfig(
        vision_config=dict(image_size=32, **VISION),
        text_config=dict(text, max_position_embeddings=64, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    )
    return CLIPModel._from_config(config), processor, ""


def _siglip_vision() -> tuple[Any, Any, None]:
    from transformers import SiglipImageProcessorPil, SiglipVisionConfig, SiglipVisionModel

    processor = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    return SiglipVisionModel._from_config(SiglipVisionConfig(image_size=32, **VISION)), processor, None


def _llava() -> tuple[Any, Any, str]:
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaImageProcessorPil, LlavaProcessor

    tokenizer = tokenizer_with(["<image>"])
    images = LlavaImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", image_size=32, **VISION),
        text_config=dict(model_type="llama", **_text(len(tokenizer))),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=16,
    )
    return LlavaForConditionalGeneration._from_config(config), processor, "<image>"


def _llava_padded() -> tuple[Any, Any, str]:
    """LLaVA whose processor pads the picture to a square (centred) before resizing."""
    model, processor, placeholder = _llava()
    processor.image_processor.do_pad = True
    return model, processor, placeholder


def _llava_next() -> tuple[Any, Any, str]:
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
    )

    tokenizer = tokenizer_with(["<image>"])
    pinpoints = [[32, 64], [64, 32], [64, 64], [32, 96], [96, 32]]
    images = LlavaNextImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints
    )
    processor = LlavaNextProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    config = LlavaNextConfig(
        vision_config=dict(model_type="clip_vision_model", image_size=32, **VISION),
        text_config=dict(model_type="llama", **_text(len(tokenizer))),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
    )
    return LlavaNextForConditionalGeneration._from_config(config), processor, "<image>"


def _llava_onevision(aspect: str = "anyres_max_9") -> tuple[Any, Any, str]:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        LlavaOnevisionProcessor,
    )
    from transformers.processing_utils import ProcessorMixin

    tokenizer = tokenizer_with(["<image>", "<video>"])
    pinpoints = [[32, 64], [64, 32], [64, 64], [32, 96], [96, 32]]
    images = LlavaOnevisionImageProcessorPil(size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints)
    # its processor insists on a video processor, which needs torchvision: built without it (see Qwen2-VL)
    with mock.patch.object(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg)):
        processor = LlavaOnevisionProcessor(
            image_processor=images,
            tokenizer=tokenizer,
            video_processor=None,
            num_image_tokens=16,
            vision_feature_select_strategy="full",
            vision_aspect_ratio=aspect,
        )
    config = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", image_size=32, **VISION),
        text_config=dict(model_type="qwen2", **_text(len(tokenizer))),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_aspect_ratio=aspect,
    )
    return LlavaOnevisionForConditionalGeneration._from_config(config), processor, "<image>"


def _llava_onevision_shrunk() -> tuple[Any, Any, str]:
    """LLaVA-OneVision allowed one tile's worth of patches: a 2 x 2 grid is shrunk by interpolation."""
    return _llava_onevision("anyres_max_1")


def _qwen2_vl() -> tuple[Any, Any, str]:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil, Qwen2VLProcessor
    from transformers.processing_utils import ProcessorMixin

    tokenizer = tokenizer_with(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"])
    # patches of 8 pixels merged 2 x 2: sides are multiples of 16; at most 24 * 16 * 16 pixels
    images = Qwen2VLImageProcessorPil(
        size={"shortest_edge": 4 * 16 * 16, "longest_edge": 24 * 16 * 16}, patch_size=8, merge_size=2
    )
    # Qwen2VLProcessor insists on a video processor, and Qwen2VLVideoProcessor needs torchvision,
    # which this environment lacks: build the real processor class without its video side.
    with mock.patch.object(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg)):
        processor = Qwen2VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=None)
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, num_heads=4, patch_size=8, spatial_merge_size=2),
        text_config=dict(**_text(len(tokenizer)), rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 2]}),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    return Qwen2VLForConditionalGeneration._from_config(config), processor, "<|vision_start|><|image_pad|><|vision_end|>"


def _qwen2_5_vl() -> tuple[Any, Any, str]:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLImageProcessorPil
    from transformers.processing_utils import ProcessorMixin

    tokenizer = tokenizer_with(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"])
    images = Qwen2VLImageProcessorPil(
        size={"shortest_edge": 4 * 16 * 16, "longest_edge": 48 * 16 * 16}, patch_size=8, merge_size=2
    )
    with mock.patch.object(ProcessorMixin, "check_argument_for_proper_class", lambda self, name, arg: type(arg)):
        processor = Qwen2_5_VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=None)
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        # windows of 32 pixels (2 x 2 merge units); layer 1 attends over the whole picture
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            out_hidden_size=32,
            num_heads=4,
            patch_size=8,
            spatial_merge_size=2,
            window_size=32,
            fullatt_block_indexes=[1],
        ),
        text_config=dict(**_text(len(tokenizer)), rope_parameters={"rope_type": "default", "mrope_section": [1, 1, 2]}),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    model = Qwen2_5_VLForConditionalGeneration._from_config(config)
    return model, processor, "<|vision_start|><|image_pad|><|vision_end|>"


def _gemma3() -> tuple[Any, Any, str]:
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil, Gemma3Processor

    tokenizer = tokenizer_with([], boi_token="<start_of_image>", eoi_token="<end_of_image>", image_token="<image_soft_token>")
    images = Gemma3ImageProcessorPil(size={"height": 64, "width": 64})
    processor = Gemma3Processor(image_processor=images, tokenizer=tokenizer, image_seq_length=16)
    ids = tokenizer.convert_tokens_to_ids
    config = Gemma3Config(
        vision_config=dict(model_type="siglip_vision_model", image_size=64, **VISION),
        text_config=dict(**_text(len(tokenizer)), head_dim=8, query_pre_attn_scalar=8, sliding_window=16),
        mm_tokens_per_image=16,  # 8 x 8 patches pooled 2 x 2
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
    )
    model = Gemma3ForConditionalGeneration._from_config(config)
    projection = model.model.multi_modal_projector.mm_input_projection_weight
    with torch.no_grad():
        projection.normal_(std=0.2)  # initialised to zeros: every image token would be the same
    return model, processor, "<start_of_image>"


def _paligemma() -> tuple[Any, Any, str]:
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor, SiglipImageProcessorPil

    tokenizer = tokenizer_with(["<image>"])
    images = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    images.image_seq_length = 16
    processor = PaliGemmaProcessor(image_processor=images, tokenizer=tokenizer)
    config = PaliGemmaConfig(
        vision_config=dict(model_type="siglip_vision_model", image_size=32, projection_dim=32, **VISION),
        text_config=dict(model_type="gemma", **_text(len(tokenizer)), head_dim=8),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        projection_dim=32,
    )
    return PaliGemmaForConditionalGeneration._from_config(config), processor, "<image>"


def _idefics3() -> tuple[Any, Any, str]:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil, Idefics3Processor

    rows_cols = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tokenizer = tokenizer_with(["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *rows_cols])
    # longest edge to 96, tiles of 32: china.jpg (427 x 640) becomes 64 x 96, 2 x 3 tiles plus the
    # global image (sides already multiples of the tile, so the second resize changes nothing)
    images = Idefics3ImageProcessorPil(size={"longest_edge": 96}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(image_processor=images, tokenizer=tokenizer, image_seq_len=4)
    config = Idefics3Config(
        vision_config=dict(image_size=32, **VISION),
        text_config=dict(model_type="llama", **_text(len(tokenizer))),
        scale_factor=2,  # 4 x 4 patches per tile, pixel-shuffled 2 x 2 into 4 tokens
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return Idefics3ForConditionalGeneration._from_config(config), processor, "<image>"


def _smolvlm() -> tuple[Any, Any, str]:
    """SmolVLM: Idefics3's design. Its own processor needs the num2words package (absent here), so
    its image processor goes with Idefics3's processor, which writes the same prompt."""
    from transformers import Idefics3Processor, SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessorPil

    rows_cols = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tokenizer = tokenizer_with(["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *rows_cols])
    images = SmolVLMImageProcessorPil(size={"longest_edge": 96}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(image_processor=images, tokenizer=tokenizer, image_seq_len=4)
    config = SmolVLMConfig(
        vision_config=dict(image_size=32, **VISION),
        text_config=dict(model_type="llama", **_text(len(tokenizer))),
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return SmolVLMForConditionalGeneration._from_config(config), processor, "<image>"


def _mllama() -> tuple[Any, Any, str]:
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessorPil, MllamaProcessor

    tokenizer = tokenizer_with(["<|image|>", "<|python_tag|>"])
    images = MllamaImageProcessorPil(size={"height": 32, "width": 32}, max_image_tiles=4)
    processor = MllamaProcessor(image_processor=images, tokenizer=tokenizer)
    config = MllamaConfig(
        vision_config=dict(
            **VISION,
            num_global_layers=1,
            image_size=32,
            max_num_tiles=4,
            vision_output_dim=64,
            intermediate_layers_indices=[0],
            supported_aspect_ratios=[[1, 1], [1, 2], [1, 3], [1, 4], [2, 1], [2, 2], [3, 1], [4, 1]],
        ),
        text_config=dict(
            _text(len(tokenizer)), num_hidden_layers=3, cross_attention_layers=[1], pad_token_id=0, bos_token_id=0, eos_token_id=0
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<|image|>"),
    )
    return MllamaForConditionalGeneration._from_config(config), processor, "<|image|>"


BUILDERS: dict[str, Callable[[], tuple[Any, Any, str | None]]] = {
    "vit": _vit,
    "deit": _deit,
    "dinov2_registers": _dinov2_registers,
    "clip_vision": _clip_vision,
    "clip": _clip,
    "siglip_vision": _siglip_vision,
    "llava": _llava,
    "llava_padded": _llava_padded,
    "llava_next": _llava_next,
    "llava_onevision": _llava_onevision,
    "llava_onevision_shrunk": _llava_onevision_shrunk,
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_5_vl,
    "gemma3": _gemma3,
    "paligemma": _paligemma,
    "idefics3": _idefics3,
    "smolvlm": _smolvlm,
    "mllama": _mllama,
}


@functools.cache
def _built(family: str) -> tuple[Any, Any, str | None]:
    import torch

    torch.manual_seed(0)
    model, processor, placeholder = BUILDERS[family]()
    return model.eval(), processor, placeholder


def tiny_vision(family: str) -> tuple[Any, Any]:
    """``(model, processor)`` of ``family``: random weights (seeded), eval mode, SDPA; built once."""
    model, processor, _ = _built(family)
    return model, processor


def prompt(family: str, images: int = 1, *, late: bool = False) -> str | None:
    """A prompt with the family's image placeholder for each picture (first, or after a few words
    when ``late``), or None (vision-only)."""
    placeholder = _built(family)[2]
    if placeholder is None:
        return None
    return f"Look: {placeholder * images} {PROMPT}" if late else f"{placeholder * images} {PROMPT}"
