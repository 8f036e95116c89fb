"""The input whose prediction attribution explains: one text, or a prompt with pictures for a
vision-language model. Either way, a ``Prompt`` runs the model on its full inputs and on chosen
input embeddings, and says which attention calls are the language model's (the ones gated).

With pictures, the processor's full inputs (``pixel_values``, image sizes or grids, masks) go to
the model every time, and the *input embeddings* are what its language model receives: the
prompt's token embeddings with each image placeholder replaced by the projected image feature the
model computed. Token attributions are taken with respect to those, so image tokens get scores as
words do. Families whose pictures do not enter the prompt as tokens are refused (``REFUSED``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..capturing.model_config import device_of
from ..capturing.run import check_text
from ..capturing.vision.capture import processor_inputs

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Vision-language families whose pictures attribution cannot explain, by ``model_type``: why.
REFUSED: dict[str, str] = {
    "mllama": (
        "Mllama reads its pictures through cross-attention layers, not as tokens of the prompt: the language "
        "model's input embeddings hold no image tokens to attribute to, and its cross-attention is not gated"
    ),
}


def check_model(model: PreTrainedModel) -> None:
    import torch

    dtype = getattr(model, "dtype", torch.float32)
    if dtype != torch.float32:
        raise TypeError(f"attribution computes gradients in float32: the model is {dtype}; pass model.float()")
    if getattr(model.config, "is_encoder_decoder", False):
        raise NotImplementedError("attribution supports decoder-only and encoder-only models, not encoder-decoders yet")


class Prompt:
    """One text: the tokenizer's inputs; the embeddings are the token embeddings (positions excluded)."""

    #: Module-name prefix of the attention calls that are gated ("": every call).
    gate_prefix = ""

    def __init__(self, model: PreTrainedModel, tokenizer: Any, inputs: dict[str, Any]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.inputs = inputs

    @property
    def ids(self) -> Any:
        return self.inputs["input_ids"]

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[1])

    def run(self, **options: Any) -> Any:
        """The model on the full inputs."""
        return self.model(**self.inputs, use_cache=False, return_dict=True, **options)

    def embeddings(self) -> Any:
        """The input embeddings (1, N, D), detached."""
        embed = self.model.get_input_embeddings()
        if embed is None:
            raise ValueError(f"{type(self.model).__name__} has no input embeddings to take gradients on")
        return embed(self.ids).detach()

    def run_embeds(self, x: Any, **options: Any) -> Any:
        """The model with input embeddings ``x`` (B, N, D) in place of the tokens'."""
        batch = int(x.shape[0])
        rest = {k: v.expand(batch, *v.shape[1:]) for k, v in self.inputs.items() if k != "input_ids"}
        return self.model(inputs_embeds=x, **rest, use_cache=False, return_dict=True, **options)


class ImagePrompt(Prompt):
    """A prompt with pictures: the processor's inputs; the embeddings are those the language model
    receives (image tokens included), swapped in by a hook on the language model's forward."""

    def __init__(self, model: PreTrainedModel, tokenizer: Any, inputs: dict[str, Any]) -> None:
        super().__init__(model, tokenizer, inputs)
        self.language_model = _language_model(model)
        name = next(n for n, m in model.named_modules() if m is self.language_model)
        self.gate_prefix = f"{name}."
        self._replace: Any = None
        self._seen: Any = None

    def embeddings(self) -> Any:
        import torch

        with self._hooked(), torch.no_grad():
            self.run()
        return self._seen

    def run_embeds(self, x: Any, **options: Any) -> Any:
        self._replace = x
        try:
            with self._hooked():
                return self.run(**options)
        finally:
            self._replace = None

    @contextmanager
    def _hooked(self) -> Iterator[None]:
        def swap(_module: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            embeds = kwargs.get("inputs_embeds")
            if embeds is None:
                raise NotImplementedError(
                    f"{type(self.model).__name__} passes no input embeddings to its language model; attribution "
                    "over image tokens needs them"
                )
            self._seen = embeds.detach()
            x = self._replace
            if x is None:
                return args, kwargs
            if tuple(x.shape[1:]) != tuple(embeds.shape[1:]):
                raise ValueError(f"embeddings of shape {tuple(x.shape)} for a prompt of {tuple(embeds.shape)}")
            kwargs = {**kwargs, "inputs_embeds": x.to(embeds.dtype)}
            mask = kwargs.get("attention_mask")
            if getattr(mask, "ndim", 0) == 2 and int(mask.shape[0]) == 1:  # one row per example
                kwargs["attention_mask"] = mask.expand(int(x.shape[0]), -1)
            return args, kwargs

        handle = self.language_model.register_forward_pre_hook(swap, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()


def _language_model(model: PreTrainedModel) -> Any:
    getter = getattr(model, "get_decoder", None)
    decoder = getter() if callable(getter) else None
    if decoder is None or decoder is model:
        raise NotImplementedError(f"{type(model).__name__}: attribution with images needs a language model inside it")
    return decoder


def prompt_of(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase | Any,
    text: Any,
    text_pair: str | None = None,
    images: Any = None,
) -> Prompt:
    """The checked input of one example, on the model's device (``tokenizer`` is the model's
    processor when ``images`` are given)."""
    check_model(model)
    if images is None:
        check_text(text)
        if not isinstance(text, str):
            raise TypeError(f"text must be one str for attribution (one example), got {type(text).__name__}")
        device = device_of(model)
        return Prompt(model, tokenizer, {k: v.to(device) for k, v in tokenizer(text, text_pair, return_tensors="pt").items()})
    check_images_explainable(model.config)
    if text_pair is not None:
        raise ValueError("text_pair does not go with images: put the whole prompt in text")
    words, inputs = processor_inputs(model, tokenizer, text, images)
    return ImagePrompt(model, words, inputs)


def check_images_explainable(config: Any) -> None:
    """NotImplementedError saying why when a prediction made with pictures cannot be explained."""
    family = str(getattr(config, "model_type", type(config).__name__))
    if family in REFUSED:
        raise NotImplementedError(f"saliency with images: {REFUSED[family]}")
    if getattr(config, "vision_config", None) is None:
        raise NotImplementedError(
            f"saliency with images explains a vision-language model's next word; {family} reads pictures only and "
            "predicts no word. Its per-patch view is attention rollout: heatmap_quantity='rollout' "
            "(or attn_widget.attribution.patch_rollout)"
        )
