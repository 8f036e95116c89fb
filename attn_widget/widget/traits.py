"""Trait types that know how to check a value against the widget they sit on (its sizes and
options), so every synced value is valid whichever side set it, with one message per mistake:
the name, what was expected and what came.

``validate`` checks what needs no context (an int is an int); ``check(obj, value)`` what does. The
widget's one cross-validator (``WidgetState._in_context``) calls ``check``: traitlets runs
cross-validators on every set, also after a batch from the page, but not on defaults, which are
read before the sizes they would be checked against exist."""

from __future__ import annotations

from typing import Any

import traitlets

from .._checks import is_int


class Index(traitlets.Int):  # type: ignore[type-arg]
    """A position along an axis of size ``obj.<size>``: an int (numpy integers taken, True and 1.0
    refused, which traitlets.Int would take as 1). ``minus_one`` says what -1 means, if anything."""

    def __init__(self, default_value: int, *, size: str, minus_one: str | None = None, **kwargs: Any) -> None:
        super().__init__(default_value, **kwargs)
        self.size = size
        self.minus_one = minus_one

    def validate(self, obj: Any, value: Any) -> Any:
        if not is_int(value):
            raise traitlets.TraitError(f"{self.name} must be an int, got {value!r}")
        return super().validate(obj, int(value))

    def check(self, obj: Any, value: int) -> int:
        upper = getattr(obj, self.size)
        lower = -1 if self.minus_one else 0
        if not lower <= value < upper:
            extra = f" (-1 = {self.minus_one})" if self.minus_one else ""
            raise traitlets.TraitError(f"{self.name} must be in [{lower}, {upper - 1}]{extra}, got {value}")
        return value


class Window(traitlets.List):  # type: ignore[type-arg]
    """The heatmap's visible ``[q0, q1, k0, k1]``, end exclusive, inside the matrix shown."""

    def check(self, obj: Any, value: Any) -> Any:
        n_q, n_k = obj.n_queries, obj.n_tokens
        ok = isinstance(value, (list, tuple)) and len(value) == 4 and all(is_int(v) for v in value)
        if ok:
            q0, q1, k0, k1 = (int(v) for v in value)
            ok = 0 <= q0 < q1 <= n_q and 0 <= k0 < k1 <= n_k
        if not ok:
            raise traitlets.TraitError(
                f"window must be (q0, q1, k0, k1) with 0 <= q0 < q1 <= {n_q} and 0 <= k0 < k1 <= {n_k} "
                f"(query and key ranges, end exclusive), got {value!r}"
            )
        return [int(v) for v in value]


class Queries(traitlets.List):  # type: ignore[type-arg]
    """Several query positions, kept sorted and unique."""

    def check(self, obj: Any, value: Any) -> Any:
        n = obj.n_queries
        if not (isinstance(value, (list, tuple)) and all(is_int(v) and 0 <= v < n for v in value)):
            raise traitlets.TraitError(f"queries must be a list of query positions (ints in [0, {n - 1}]), got {value!r}")
        return sorted({int(v) for v in value})


class Spans(traitlets.List):  # type: ignore[type-arg]
    """Named key ranges ``{name, start, end}`` (end exclusive); ``(name, start, end)`` tuples taken."""

    def check(self, obj: Any, value: Any) -> Any:
        out = []
        for i, span in enumerate(value):
            if isinstance(span, dict):
                name, start, end = span.get("name"), span.get("start"), span.get("end")
            elif isinstance(span, (tuple, list)) and len(span) == 3:
                name, start, end = span
            else:
                raise traitlets.TraitError(f"spans[{i}] must be (name, start, end) or a dict with those keys, got {span!r}")
            if not isinstance(name, str) or not (is_int(start) and is_int(end)) or not 0 <= start < end <= obj.n_tokens:
                raise traitlets.TraitError(
                    f"spans[{i}] must be (name: str, start, end) with 0 <= start < end <= {obj.n_tokens} "
                    f"(end exclusive), got {span!r}"
                )
            out.append({"name": name, "start": int(start), "end": int(end)})
        return out


class OneOf(traitlets.Unicode):  # type: ignore[type-arg]
    """A string among the ids the widget offers now: ``obj.<choices>()`` lists them."""

    def __init__(self, default_value: str, *, choices: str, **kwargs: Any) -> None:
        super().__init__(default_value, **kwargs)
        self.choices = choices

    def check(self, obj: Any, value: Any) -> Any:
        allowed = getattr(obj, self.choices)()
        if value not in allowed:
            raise traitlets.TraitError(f"{self.name} must be one of {allowed}, got {value!r}")
        return value
