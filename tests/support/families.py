"""Tiny random models of every text family transformers v5 builds, with configs shaped like each
family's published checkpoint (its attention choices: soft-capping, sinks, sliding windows and their
layer patterns, relative or linear position biases, grouped-query heads, partial rotary, q/k norms),
at tiny sizes (hidden 32, 2 layers), built in code: no hub."""

from __future__ import annotations

from typing import Any

from tests.support.models import byte_level_tokenizer

HIDDEN = 32
WINDOW = 4  # sliding windows shorter than the test text, so they change the weights

# name -> (model class, config class, config fields). Fields a published config of the family
# sets beyond sizes are kept (values scaled down where they are sizes or windows).
_DECODER_COMMON: dict[str, Any] = {"hidden_size": HIDDEN, "num_hidden_layers": 2, "intermediate_size": 64}
_GQA: dict[str, Any] = {**_DECODER_COMMON, "num_attention_heads": 4, "num_key_value_heads": 2}
_MOE: dict[str, Any] = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16}


#: The encoder-decoders built like BART (BART, mBART, Marian, Pegasus, M2M-100) share one shape.
_BART_LIKE: dict[str, Any] = {
    "d_model": HIDDEN,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
}

FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", {"n_layer": 2, "n_head": 4, "n_embd": HIDDEN}),
    "gpt_neox": (
        "GPTNeoXForCausalLM",
        "GPTNeoXConfig",
        {**_DECODER_COMMON, "num_attention_heads": 4, "rotary_pct": 0.25, "use_parallel_residual": True},
    ),
    "gptj": ("GPTJForCausalLM", "GPTJConfig", {"n_layer": 2, "n_head": 4, "n_embd": HIDDEN, "rotary_dim": 4}),
    "opt": (
        "OPTForCausalLM",
        "OPTConfig",
        {**_DECODER_COMMON, "num_attention_heads": 4, "ffn_dim": 64, "word_embed_proj_dim": HIDDEN},
    ),
    "bloom": ("BloomForCausalLM", "BloomConfig", {"hidden_size": HIDDEN, "n_layer": 2, "n_head": 4}),
    "falcon": (
        "FalconForCausalLM",
        "FalconConfig",
        {"hidden_size": HIDDEN, "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": True, "alibi": False},
    ),
    # falcon-rw-1b: ALiBi through the float mask
    "falcon_alibi": (
        "FalconForCausalLM",
        "FalconConfig",
        {"hidden_size": HIDDEN, "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": False, "alibi": True},
    ),
    "llama": ("LlamaForCausalLM", "LlamaConfig", _GQA),
    "mistral": ("MistralForCausalLM", "MistralConfig", {**_GQA, "sliding_window": WINDOW}),
    "mixtral": (
        "MixtralForCausalLM",
        "MixtralConfig",
        {**_GQA, "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": None},
    ),
    "qwen2": ("Qwen2ForCausalLM", "Qwen2Config", {**_GQA, "use_sliding_window": False}),
    "qwen2_moe": ("Qwen2MoeForCausalLM", "Qwen2MoeConfig", {**_GQA, **_MOE, "shared_expert_intermediate_size": 16}),
    "qwen3": ("Qwen3ForCausalLM", "Qwen3Config", {**_GQA, "head_dim": 8}),
    "qwen3_moe": ("Qwen3MoeForCausalLM", "Qwen3MoeConfig", {**_GQA, **_MOE, "head_dim": 8}),
    "gemma": ("GemmaForCausalLM", "GemmaConfig", {**_GQA, "head_dim": 8}),
    # gemma-2-2b: logits soft-capped at 50, every other layer a 4096-token window, query_pre_attn_scalar
    "gemma2": (
        "Gemma2ForCausalLM",
        "Gemma2Config",
        {
            **_GQA,
            "head_dim": 8,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "query_pre_attn_scalar": 8,
            "sliding_window": WINDOW,
        },
    ),
    "gemma3": (
        "Gemma3ForCausalLM",
        "Gemma3TextConfig",
        {**_GQA, "head_dim": 8, "query_pre_attn_scalar": 8, "sliding_window": WINDOW, "sliding_window_pattern": 2},
    ),
    "phi": ("PhiForCausalLM", "PhiConfig", {**_DECODER_COMMON, "num_attention_heads": 4, "partial_rotary_factor": 0.5}),
    "phi3": ("Phi3ForCausalLM", "Phi3Config", {**_GQA, "sliding_window": WINDOW, "pad_token_id": 0}),
    "olmo": ("OlmoForCausalLM", "OlmoConfig", {**_GQA, "clip_qkv": 8.0, "pad_token_id": 0}),
    "olmo2": ("Olmo2ForCausalLM", "Olmo2Config", {**_GQA, "pad_token_id": 0}),
    "starcoder2": ("Starcoder2ForCausalLM", "Starcoder2Config", {**_GQA, "sliding_window": WINDOW}),
    "cohere": ("CohereForCausalLM", "CohereConfig", {**_GQA, "logit_scale": 0.0625, "pad_token_id": 0}),
    "granite": (
        "GraniteForCausalLM",
        "GraniteConfig",
        {**_GQA, "attention_multiplier": 0.015625, "embedding_multiplier": 12.0, "residual_multiplier": 0.22},
    ),
    "stablelm": (
        "StableLmForCausalLM",
        "StableLmConfig",
        {**_GQA, "partial_rotary_factor": 0.25, "qk_layernorm": True},
    ),
    # gpt-oss-20b: a learned sink logit per head, alternating 128-token windows
    "gpt_oss": (
        "GptOssForCausalLM",
        "GptOssConfig",
        {
            **_GQA,
            "head_dim": 8,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
            "sliding_window": WINDOW,
            "layer_types": ["sliding_attention", "full_attention"],
        },
    ),
    "smollm3": ("SmolLM3ForCausalLM", "SmolLM3Config", {**_GQA, "no_rope_layer_interval": 2, "pad_token_id": 0}),
    "glm": ("GlmForCausalLM", "GlmConfig", {**_GQA, "head_dim": 8, "partial_rotary_factor": 0.5, "pad_token_id": 0}),
    "helium": ("HeliumForCausalLM", "HeliumConfig", {**_GQA, "head_dim": 8, "pad_token_id": 0}),
    "exaone4": (
        "Exaone4ForCausalLM",
        "Exaone4Config",
        {
            **_GQA,
            "sliding_window": WINDOW,
            "sliding_window_pattern": "LG",
            "layer_types": ["sliding_attention", "full_attention"],
        },
    ),
    "bert": ("BertModel", "BertConfig", {**_DECODER_COMMON, "num_attention_heads": 4}),
    "roberta": ("RobertaModel", "RobertaConfig", {**_DECODER_COMMON, "num_attention_heads": 4, "pad_token_id": 1}),
    "distilbert": ("DistilBertModel", "DistilBertConfig", {"dim": HIDDEN, "n_layers": 2, "n_heads": 4, "hidden_dim": 64}),
    "electra": ("ElectraModel", "ElectraConfig", {**_DECODER_COMMON, "num_attention_heads": 4, "embedding_size": 16}),
    "albert": ("AlbertModel", "AlbertConfig", {**_DECODER_COMMON, "num_attention_heads": 4, "embedding_size": 16}),
    "xlm_roberta": ("XLMRobertaModel", "XLMRobertaConfig", {**_DECODER_COMMON, "num_attention_heads": 4, "pad_token_id": 1}),
    # deberta-v3: disentangled relative attention, log buckets
    "deberta_v2": (
        "DebertaV2Model",
        "DebertaV2Config",
        {
            **_DECODER_COMMON,
            "num_attention_heads": 4,
            "relative_attention": True,
            "position_buckets": 8,
            "max_relative_positions": -1,
            "pos_att_type": ["p2c", "c2p"],
            "norm_rel_ebd": "layer_norm",
            "share_att_key": True,
            "position_biased_input": False,
        },
    ),
    # ModernBERT: global attention every third layer, 128-token local windows elsewhere
    "modernbert": (
        "ModernBertModel",
        "ModernBertConfig",
        {
            **_DECODER_COMMON,
            "num_attention_heads": 4,
            "global_attn_every_n_layers": 2,
            "local_attention": WINDOW,
            "pad_token_id": 0,
        },
    ),
    "mpnet": (
        "MPNetModel",
        "MPNetConfig",
        {
            **_DECODER_COMMON,
            "num_attention_heads": 4,
        },
    ),
    "bart": (
        "BartForConditionalGeneration",
        "BartConfig",
        _BART_LIKE,
    ),
    "mbart": (
        "MBartForConditionalGeneration",
        "MBartConfig",
        _BART_LIKE,
    ),
    "marian": (
        "MarianMTModel",
        "MarianConfig",
        _BART_LIKE,
    ),
    "pegasus": (
        "PegasusForConditionalGeneration",
        "PegasusConfig",
        _BART_LIKE,
    ),
    # t5-small: relative position buckets (32 buckets, 128 max distance), unscaled q k^T
    "t5": (
        "T5ForConditionalGeneration",
        "T5Config",
        {
            "d_model": HIDDEN,
            "d_kv": 8,
            "d_ff": 64,
            "num_layers": 2,
            "num_heads": 4,
            "relative_attention_num_buckets": 8,
            "relative_attention_max_distance": 16,
        },
    ),
    "m2m_100": (
        "M2M100ForConditionalGeneration",
        "M2M100Config",
        _BART_LIKE,
    ),
}

#: Encoder-decoder families whose published configs keep the decoder start token in
#: generation_config.json only (transformers v5 refuses to save generation fields in config.json).
START_IN_GENERATION_CONFIG = ("t5",)


def tiny_family_model(name: str, attn_implementation: str | None = "sdpa", seed: int = 0) -> tuple[Any, Any]:
    """A random tiny model of family ``name`` (see FAMILIES) and the byte-level tokenizer."""
    import torch
    import transformers
    from transformers import GenerationConfig

    model_name, config_name, fields = FAMILIES[name]
    tokenizer = byte_level_tokenizer()
    eos = tokenizer.eos_token_id
    config_cls = getattr(transformers, config_name)
    special = {"bos_token_id": eos, "eos_token_id": eos}
    if name not in START_IN_GENERATION_CONFIG and name in ("bart", "mbart", "marian", "pegasus", "m2m_100"):
        special.update(decoder_start_token_id=eos, pad_token_id=eos, forced_eos_token_id=None)
    if name == "t5":
        special = {"pad_token_id": eos, "eos_token_id": eos}
    config = config_cls(vocab_size=len(tokenizer), **{**special, **fields})
    torch.manual_seed(seed)
    model_cls = getattr(transformers, model_name)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    try:
        model = model_cls._from_config(config, **kwargs)
    except ValueError:  # families without SDPA (soft-capping, sinks, or attention of their own)
        model = model_cls._from_config(config, attn_implementation="eager")
    if name in START_IN_GENERATION_CONFIG:
        model.generation_config = GenerationConfig(decoder_start_token_id=eos, pad_token_id=eos, eos_token_id=eos)
    return model.eval(), tokenizer
