"""``AttentionWidget.generate``: a widget that appears before the model has finished writing, and
what a live widget adds to the API: ``stop``, ``wait``, ``candidates`` and ``fork``.

Decoding runs on its own thread (capturing/live_decoding.py), a ``LiveFeed`` keeps the traits in
step (live_feed.py); the kernel stays free to answer the views meanwhile. Outside a kernel (a
script, a test) the same calls work: ``wait()`` blocks until the text and the widget are done.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._checks import is_int
from .._openmp import release_idle_team
from ..capturing.live_decoding import Candidates, LiveDecoding, follows_live
from ..capturing.run import capture_generation, check_text
from ..capturing.vision.capture import prepare_images
from .live_feed import LiveFeed

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class LiveGeneration:
    """The live-generation part of ``AttentionWidget`` (a mixin: the class stays one screen)."""

    _live: LiveFeed | None = None
    _decoding: LiveDecoding | None = None
    _kept_forks: list[Any]

    @classmethod
    def generate(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompt: str,
        *,
        images: Any = None,
        max_new_tokens: int = 64,
        top_k: int = 5,
        seed: int | None = None,
        widget_options: dict[str, Any] | None = None,
        **generate_kwargs: Any,
    ) -> Any:
        """Start generating after ``prompt`` and return the widget at once (after the prompt's own
        forward pass): each step adds its token's row and column, the grid's rows and the
        token's ``top_k`` candidates; ``w.generating`` and ``w.step`` say how far it is.

        Greedy unless ``generate_kwargs`` say otherwise (``do_sample=True``, ``temperature``, any
        argument ``model.generate`` takes); ``seed`` seeds torch first, so the same seed writes the
        same text as plain ``generate``. ``widget_options``: the widget's own keyword arguments.
        With ``images`` (a vision-language model; ``tokenizer`` is then its processor and the
        prompt holds its image placeholder) the vision tower's attention is the kind ``"vision"``,
        recorded once, and the language model's ``"self"`` grows.
        ``w.stop()`` stops after the current step, ``w.wait()`` waits for the end."""
        check_text(prompt, "prompt")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        vision = None
        if images is not None:  # a vision-language model: ``tokenizer`` is its processor
            vision = prepare_images(model, tokenizer, prompt, images)
            if vision.ids is None:
                raise ValueError(f"{type(model).__name__} reads pictures only: it writes no text to follow")
            tokenizer = vision.tokenizer
            ids = [int(i) for i in vision.ids[0]]
        else:
            ids = [int(i) for i in tokenizer(prompt, return_tensors="pt")["input_ids"][0]]
        options = dict(widget_options or {})
        decoding = LiveDecoding(
            model,
            tokenizer,
            ids,
            max_new_tokens=max_new_tokens,
            top_k=top_k,
            seed=seed,
            generate_kwargs=generate_kwargs,
            vision=vision,
        ).start()
        return cls._follow(decoding, options)

    @classmethod
    def from_generate(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompt: str,
        *,
        max_new_tokens: int = 20,
        generate_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``generate(...)`` then ``wait()``: the whole text first (greedy by default), generated
        tokens marked. Beam search, encoder-decoders and models whose attention the live recording
        does not follow (a sliding-window cache, soft-capping, sinks, ALiBi) are captured in one
        pass after generating."""
        if follows_live(model, generate_kwargs or {}):
            try:
                widget = cls.generate(
                    model, tokenizer, prompt, max_new_tokens=max_new_tokens, widget_options=kwargs, **(generate_kwargs or {})
                )
                widget.wait()
                return widget
            except RuntimeError as err:
                if not isinstance(err.__cause__, NotImplementedError):  # refused by the live recording: capture after
                    raise
        captured = capture_generation(model, tokenizer, prompt, max_new_tokens=max_new_tokens, **(generate_kwargs or {}))
        return cls(captured, **kwargs)

    @classmethod
    def _follow(cls, decoding: LiveDecoding, options: dict[str, Any]) -> Any:
        with decoding.changed:  # the prompt's pass makes the first capture
            decoding.changed.wait_for(lambda: decoding.done.is_set() or decoding.recording.complete > 0)
        if decoding.recording.complete == 0:
            decoding.wait()  # raises what went wrong
        eager_bytes = options.pop("eager_bytes", None)
        widget: Any = cls(decoding.snapshot(), eager_bytes=0, **options)  # type: ignore[call-arg]
        widget._decoding = decoding
        widget._live = LiveFeed(widget, decoding, eager_bytes=eager_bytes)
        widget.set_trait("generating", True)
        widget.observe(widget._on_generating, names=["generating"])
        widget._messages.handlers["fork"] = widget._fork_from_page
        widget._messages.after_answer = widget._after_answer
        widget._live.start()
        release_idle_team()  # building the widget made this thread a team again (_openmp.py)
        return widget

    def _after_answer(self) -> None:
        """A tile answered while decoding runs: free the team its torch work made on this thread."""
        if self._decoding is not None and not self._decoding.done.is_set():
            release_idle_team()

    def _on_generating(self, change: dict[str, Any]) -> None:
        if not change["new"] and self._decoding is not None and not self._decoding.done.is_set():
            self._decoding.stop()  # the page's stop button, or w.generating = False

    def stop(self) -> None:
        """Stop generating after the current step; the tokens written so far stay."""
        if self._decoding is not None:
            self._decoding.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the model has finished writing and the widget shows all of it; True when it
        has (False after ``timeout`` seconds). Raises what stopped generation with an error. A
        widget that was not made by ``generate`` has nothing to wait for: True."""
        if self._decoding is None or self._live is None:
            return True
        if not self._decoding.wait(timeout) or not self._live.join(timeout):
            return False
        self._live.apply()  # the loop may be busy with this very call: show the end now
        if self._live.error is not None:
            raise RuntimeError(f"the widget could not follow the generation: {self._live.error}") from self._live.error
        return True

    # ----------------------------------------------------------------- what it almost wrote
    def candidates(self, position: int) -> Candidates:
        """The top-k tokens the model weighed at generated ``position`` (an index on the token axis),
        their probabilities, the token it wrote and the step's entropy."""
        decoding = self._live_decoding("candidates")
        first = decoding.n_prompt
        kept = list(decoding.candidates)
        if not is_int(position) or not first <= position < first + len(kept):
            raise ValueError(
                f"position must be a generated position, an int in [{first}, {first + len(kept) - 1}], got {position!r}"
            )
        return kept[int(position) - first]

    def _live_decoding(self, what: str) -> LiveDecoding:
        if self._decoding is None:
            raise AttributeError(f"{what} needs a widget made by AttentionWidget.generate")
        return self._decoding

    # ----------------------------------------------------------------- fork here
    def fork(self, position: int, token: str | int) -> Any:
        """Write ``token`` at generated ``position`` instead, let the model go on from there (the
        same arguments and seed, as many tokens as the original run has), and return
        ``AttentionWidget.compare`` of the two continuations: the same positions, the prefix
        shared, tokens that differ labelled "original/fork"."""
        a, b, labels = self._forked(position, token)
        b.start().wait()
        return self._comparison(a, b, labels)

    def _forked(self, position: int, token: str | int) -> tuple[LiveDecoding, LiveDecoding, tuple[str, str]]:
        decoding = self._live_decoding("fork")
        if not decoding.done.is_set():
            raise ValueError("the model is still writing: stop it (w.stop()) or wait for it (w.wait()) before forking")
        chosen = self.candidates(position)
        token_id = _token_id(decoding, chosen, token)
        total = len(decoding.ids)
        remaining = total - position - 1
        prompt = [*decoding.ids[:position], token_id]
        if remaining < 1:  # the last token forked: nothing follows, one more step shows its row
            remaining = 1
        kwargs = dict(decoding.generate_kwargs)
        if "min_new_tokens" in kwargs:  # as many as fit after the fork
            kwargs["min_new_tokens"] = min(int(kwargs["min_new_tokens"]), remaining)
        fork = LiveDecoding(
            decoding.model,
            decoding.tokenizer,
            prompt,
            max_new_tokens=remaining,
            top_k=decoding.top_k,
            seed=decoding.seed,
            generate_kwargs=kwargs,
            vision=decoding.vision,  # the same pictures; the prompt's ids are the fork's own
        )
        label = next((t for t, i in zip(chosen.tokens, chosen.ids) if i == token_id), str(token))
        return decoding, fork, ("as written", f"fork at {position}: {label}")

    def _comparison(self, a: LiveDecoding, b: LiveDecoding, labels: tuple[str, str]) -> Any:
        n = min(a.recording.complete, b.recording.complete)
        return type(self).compare(a.snapshot(n), b.snapshot(n), labels=labels)  # type: ignore[attr-defined]

    def _fork_from_page(self, content: dict[str, Any]) -> None:
        """The page chose a candidate: fork on a thread, then show the comparison below the widget."""
        position, token = content.get("position"), content.get("token_id")
        if not (is_int(position) and is_int(token)):
            raise ValueError(f"a fork needs an int position and token_id, got {position!r} and {token!r}")
        a, b, labels = self._forked(int(position), int(token))
        w: Any = self
        w.set_trait("status", f"forking at {position}…")
        live = self._live
        assert live is not None

        def show() -> None:
            try:
                b.wait()
                forked = self._comparison(a, b, labels)
            except Exception as err:  # noqa: BLE001 - the status line says it
                w.set_trait("status", f"the fork failed: {type(err).__name__}: {err}")
                return
            if not hasattr(self, "_kept_forks"):
                self._kept_forks = []
            self._kept_forks.append(forked)  # the page shows it; Python keeps it alive (w.forks)
            w.set_trait("_forks", [*w._forks, forked.model_id])
            w.set_trait("status", "")

        b.start()
        threading.Thread(target=lambda: (b.done.wait(), live.hand(show)), daemon=True).start()

    @property
    def forks(self) -> list[Any]:
        """The comparisons forked from the page, in order (each shown below the widget)."""
        return list(getattr(self, "_kept_forks", []))


def _token_id(decoding: LiveDecoding, chosen: Candidates, token: str | int) -> int:
    """``token`` as one vocabulary id: an id, a candidate's label, or a piece of the vocabulary."""
    if is_int(token):
        return int(token)  # type: ignore[arg-type]
    if not isinstance(token, str):
        raise TypeError(f"token must be a str or an int id, got {type(token).__name__}: {token!r}")
    for label, token_id in zip(chosen.tokens, chosen.ids):
        if label == token:
            return token_id
    tokenizer = decoding.tokenizer
    pieces: Sequence[int] = tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(pieces) != 1:
        raise ValueError(
            f"token must be one token: {token!r} is {len(pieces)} tokens for this tokenizer; "
            f"choose one of the candidates {chosen.tokens} or pass an id"
        )
    return int(pieces[0])
