"""Generate on a thread of its own while the recording grows (live_recording.py), keeping what the
model almost wrote at each step.

``LiveDecoding`` runs ``model.generate`` with the caller's arguments plus three observers that
change nothing it computes: a forward hook that keeps each step's next-token distribution (the
model's own, softmax of its logits, before any sampling setting reshapes it) and marks the step's
rows complete, a streamer that hears the token chosen, and a stopping criterion that ``stop()``
sets. No random numbers are drawn by them, so a seeded sampling run writes the same text as plain
``generate`` with the same seed. After ``generate`` returns, the last token (which ``generate``
never feeds back) runs once through the cache so that its row exists too.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._checks import check_int, is_int
from .._openmp import release_idle_team
from .live_recording import LiveRecording, live_recording
from .memory import check_capture_fits
from .model_config import device_of, layer_count, position_limit
from .result import Axis, Capture, RecordedKind
from .tokens import readable_tokens
from .vision.capture import VisionRun, built_capture

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: generate arguments that make more than one sequence: the recording follows exactly one.
_ONE_SEQUENCE = ("num_beams", "num_return_sequences", "num_beam_groups")
#: generate arguments attn_widget sets itself.
_OURS = ("streamer", "return_dict_in_generate", "input_ids", "attention_mask", "inputs")


@dataclass(frozen=True)
class Candidates:
    """What the model could have written at one generated ``position``: its ``top_k`` most probable
    tokens (``tokens``, ``ids``, ``probabilities``, most probable first), the token it wrote
    (``chosen``, ``chosen_id``, ``chosen_probability``; sampling may pick one outside the top k)
    and the entropy (nats) of the step's distribution. Probabilities are the model's own
    (softmax of its logits), before temperature, top-k or top-p reshape them for sampling."""

    position: int
    tokens: list[str]
    ids: list[int]
    probabilities: list[float]
    chosen: str
    chosen_id: int
    chosen_probability: float
    entropy: float


class LiveDecoding:
    """One ``generate`` run on its own thread, its recording growing as it goes."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompt_ids: Sequence[int],
        *,
        max_new_tokens: int,
        top_k: int = 5,
        seed: int | None = None,
        generate_kwargs: dict[str, Any] | None = None,
        vision: VisionRun | None = None,
    ) -> None:
        """``vision``: the prepared pictures and prompt of a vision-language model (``prompt_ids``
        are then its prompt's ids, image tokens included)."""
        check_int("max_new_tokens", max_new_tokens, low=1)
        check_int("top_k", top_k, low=1)
        if seed is not None and not is_int(seed, numpy_ok=False):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}: {seed!r}")
        kwargs = dict(generate_kwargs or {})
        check_generate_kwargs(model, kwargs)
        kwargs.setdefault("do_sample", False)  # greedy unless told otherwise, as from_generate
        if getattr(tokenizer, "pad_token_id", None) is None and getattr(tokenizer, "eos_token_id", None) is not None:
            kwargs.setdefault("pad_token_id", tokenizer.eos_token_id)
        config = getattr(model, "config", None)
        total = len(prompt_ids) + max_new_tokens
        limit = position_limit(config)
        if limit is not None and total > limit:
            raise ValueError(
                f"the prompt ({len(prompt_ids)} tokens) plus max_new_tokens={max_new_tokens} is {total} positions, "
                f"but the model accepts at most {limit}: lower max_new_tokens"
            )
        if vision is None:
            check_capture_fits(model, total)
        self.vision = vision
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.top_k, self.seed = max_new_tokens, top_k, seed
        self.generate_kwargs = kwargs
        self.n_prompt = len(prompt_ids)
        self.ids: list[int] = [int(i) for i in prompt_ids]
        if vision is not None and vision.text_axis is not None:  # image positions named by what they show
            shown = len(vision.text_axis)  # a fork's prompt goes on past the processor's
            more, more_special = readable_tokens(tokenizer, self.ids[shown:])
            self._labels = [*vision.text_axis.tokens, *more]
            self._special = [*vision.text_axis.special, *more_special]
        else:
            self._labels, self._special = readable_tokens(tokenizer, self.ids)
        self.candidates: list[Candidates] = []
        #: (positions complete, wall-clock time.time()) after each forward pass: for latency benchmarks.
        self.completed_at: list[tuple[int, float]] = []
        names = {id(m): name for name, m in model.named_modules()}
        self.recording = LiveRecording(names)
        self.error: BaseException | None = None
        self.started = self.finished = math.nan
        self._pending: tuple[list[int], list[float], float, Any] | None = None
        self._stop = threading.Event()
        self.done = threading.Event()
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="attn-widget-generate", daemon=True)
        import torch

        self._threads = torch.get_num_threads()  # the caller's: decoding runs as plain generate would

    # ----------------------------------------------------------------- running
    def start(self) -> LiveDecoding:
        release_idle_team()  # the caller's idle OpenMP team would slow the decoding thread's (_openmp.py)
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask decoding to stop after the step it is in (the tokens so far are kept)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def steps(self) -> int:
        """Tokens generated so far."""
        return len(self.ids) - self.n_prompt

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for decoding to end; True when it has. Re-raises what stopped it with an error."""
        if not self.done.wait(timeout):
            return False
        if self.error is not None:
            raise RuntimeError(f"generation failed: {type(self.error).__name__}: {self.error}") from self.error
        return True

    def tokens_per_second(self) -> float:
        end = self.finished if self.done.is_set() else time.perf_counter()
        return self.steps / max(1e-9, end - self.started)

    def _run(self) -> None:
        import torch
        from transformers import StoppingCriteriaList

        torch.set_num_threads(self._threads)  # a new thread's own setting starts at the default
        hook = self.model.register_forward_hook(self._after_forward)
        try:
            if self.seed is not None:
                torch.manual_seed(self.seed)
            device = device_of(self.model)
            ids = torch.tensor([self.ids], device=device)
            inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if self.vision is not None:  # the pictures' tensors, and the prompt as the processor made it
                inputs = {**_token_aligned(self.vision.inputs, len(self.ids)), **inputs}
            with live_recording(self.model, self.recording), torch.no_grad():
                out = self.model.generate(
                    **inputs,
                    max_new_tokens=self.max_new_tokens,
                    streamer=_Streamer(self),
                    stopping_criteria=StoppingCriteriaList([_StopFlag(self._stop), *self._criteria()]),
                    return_dict_in_generate=True,
                    **{k: v for k, v in self.generate_kwargs.items() if k != "stopping_criteria"},
                )
                sequence = out.sequences[:, : len(self.ids)]
                if self.recording.complete < len(self.ids):  # the last token's row: one step through the cache
                    self.model(**_last_step(self.model, sequence, out.past_key_values))
            expected = layer_count(getattr(self.model, "config", None))
            if expected is not None and self.recording.n_layers != expected:
                raise RuntimeError(
                    f"recorded {self.recording.n_layers} attention layers but the config has {expected}: "
                    "refusing to show a partial result"
                )
        except BaseException as err:  # noqa: BLE001 - shown by the widget, re-raised by wait()
            self.error = err
        finally:
            hook.remove()
            self.finished = time.perf_counter()
            self.done.set()
            self._notify()

    def _criteria(self) -> list[Any]:
        given = self.generate_kwargs.get("stopping_criteria")
        return list(given) if given is not None else []

    def _after_forward(self, module: Any, args: Any, output: Any) -> None:
        import torch

        logits = getattr(output, "logits", None)
        if logits is not None:
            with torch.no_grad():
                row = logits[0, -1].float()
                logp = torch.log_softmax(row, dim=-1)
                p = logp.exp()
                entropy = float(-(p * logp).nan_to_num_(0.0).sum())
                top = torch.topk(p, min(self.top_k, int(p.shape[0])))
                self._pending = (top.indices.tolist(), top.values.tolist(), entropy, p)
        self.recording.step_done()
        self.completed_at.append((self.recording.complete, time.time()))
        self._notify()

    def _chosen(self, token_id: int) -> None:
        pending, self._pending = self._pending, None
        if pending is None:  # no logits seen (a model without an LM head output): nothing to keep
            raise RuntimeError("live generation needs the model's logits at each step; this model returned none")
        ids, probs, entropy, p = pending
        labels, special = readable_tokens(self.tokenizer, [*ids, token_id])
        self.candidates.append(
            Candidates(len(self.ids), labels[:-1], ids, probs, labels[-1], token_id, float(p[token_id]), entropy)
        )
        self._labels.append(labels[-1])
        self._special.append(special[-1])
        self.ids.append(token_id)
        self._notify()

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # ----------------------------------------------------------------- what it holds
    def axis(self, n: int) -> Axis:
        patches = None if self.vision is None or self.vision.text_axis is None else self.vision.text_axis.patches
        return Axis.of(self._labels[:n], self._special[:n], [i >= self.n_prompt for i in range(n)], patches)

    def snapshot(self, n: int | None = None) -> Capture:
        """The capture of the first ``n`` positions (default: every position whose row is complete)."""
        calls = self.recording.calls(n)
        count = int(calls[0].q.shape[1])
        axis = self.axis(count)
        if self.vision is not None:  # the tower's kind as the prompt's pass recorded it, and the growing "self"
            capture = built_capture(self.vision, [*self.recording.tower.calls, *calls], text_axis=axis)
        else:
            capture = Capture([RecordedKind("self", calls, axis, axis)])
        capture.growing = True
        return capture


class _Streamer:
    """generate's streamer: the first ``put`` is the prompt, each later one the step's token."""

    def __init__(self, decoding: LiveDecoding) -> None:
        self._decoding = decoding
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self._decoding._chosen(int(value.reshape(-1)[0]))

    def end(self) -> None:
        pass


class _StopFlag:
    """A stopping criterion that ``LiveDecoding.stop`` sets."""

    def __init__(self, flag: threading.Event) -> None:
        self._flag = flag

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((int(input_ids.shape[0]),), self._flag.is_set(), dtype=torch.bool, device=input_ids.device)


def _token_aligned(inputs: dict[str, Any], n: int) -> dict[str, Any]:
    """A processor's per-token tensors (token types) padded with zeros (text) to ``n`` tokens: a
    fork's prompt is the processor's prompt and the tokens written after it."""
    import torch

    length = int(inputs["input_ids"].shape[1])
    out = dict(inputs)
    for name, value in inputs.items():
        if name not in ("input_ids", "attention_mask") and getattr(value, "ndim", 0) == 2 and value.shape[1] == length < n:
            out[name] = torch.cat([value, value.new_zeros((value.shape[0], n - length))], dim=1)
    return out


def _last_step(model: Any, sequence: Any, cache: Any) -> dict[str, Any]:
    """The inputs of one more decoding step over ``sequence``'s last token, made the way generate
    makes them (rotary positions of a vision-language model included)."""
    import inspect

    import torch

    name = "cache" if "cache" in inspect.signature(model.prepare_inputs_for_generation).parameters else "past_key_values"
    kwargs = {name: cache, "attention_mask": torch.ones_like(sequence), "use_cache": True}
    try:
        return dict(model.prepare_inputs_for_generation(sequence, next_sequence_length=1, **kwargs))
    except TypeError:  # an older signature without next_sequence_length
        return dict(model.prepare_inputs_for_generation(sequence, **kwargs))


def follows_live(model: Any, kwargs: dict[str, Any]) -> bool:
    """Whether a live recording can follow ``model.generate(**kwargs)`` (one sequence, decoder only)."""
    try:
        check_generate_kwargs(model, kwargs)
    except ValueError:
        return False
    return True


#: Vision-language families the live recording does not follow, and why (their capture works).
NOT_FOLLOWED = {
    "gemma3": "its image tokens attend to each other both ways, so the prompt's mask is not causal",
    "paligemma": "its prompt (image and prefix) attends both ways, so the prompt's mask is not causal",
    "qwen2_vl": "its rotary positions over the picture (M-RoPE) live inside generate, so the last token's row cannot be made",
    "qwen2_5_vl": "its rotary positions over the picture (M-RoPE) live inside generate, so the last token's row cannot be made",
    "mllama": "its text reads the picture through cross-attention layers, which the recording does not grow",
}


def check_generate_kwargs(model: Any, kwargs: dict[str, Any]) -> None:
    """Refuse what the live recording cannot follow, naming the argument."""
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"model must be a transformers model that can generate, got {type(model).__name__}")
    family = getattr(getattr(model, "config", None), "model_type", None)
    if family in NOT_FOLLOWED:
        raise ValueError(
            f"live generation does not follow {type(model).__name__}: {NOT_FOLLOWED[family]}; "
            "capture the finished text instead (attn_widget.capture(model, processor, text, images=...))"
        )
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise ValueError(
            "live generation follows decoder-only models; for an encoder-decoder use "
            "AttentionWidget.from_generate, which captures after generating"
        )
    for name in _OURS:
        if name in kwargs:
            raise ValueError(f"generate_kwargs must not set {name!r}: attn_widget sets it to follow the decoding")
    for name in _ONE_SEQUENCE:
        value = kwargs.get(name)
        if value is not None and value != 1:
            raise ValueError(
                f"{name}={value!r}: live generation follows one sequence, and {name} > 1 makes several "
                "(beam search reorders them); use AttentionWidget.from_generate for it"
            )
