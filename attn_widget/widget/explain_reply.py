"""The explain panel's message: one cell's explanation and what its head writes, with every number
as the text Python prints (so the page shows Python's digits) and as a value (for the bars)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..attribution.decomposition import Explanation, Writes

#: Pairs, shares and tokens the panel lists.
TOP_PAIRS = 8
TOP_SHARES = 6
TOP_TOKENS = 5
_HEAD = re.compile(r"^L(\d+)H(\d+)$")


def number(value: float) -> str:
    """How the panel prints a score or a term: three significant digits with a sign."""
    return f"{value:+.3g}"


def pair_label(e: Explanation, query_component: str, key_component: str) -> str:
    """'L3H7 at 'cat' x embed of 'sat'': the query side's component at the query, the key side's at the key."""
    return f"{query_component} at '{e.query_token}' x {key_component} of '{e.key_token}'"


def _component(name: str, value: float) -> dict[str, Any]:
    match = _HEAD.match(name)
    head = None if match is None else [int(match.group(1)), int(match.group(2))]
    return {"name": name, "value": value, "text": number(value), "head": head}


def _shares(shares: dict[str, float]) -> list[dict[str, Any]]:
    ranked = sorted(shares.items(), key=lambda kv: -abs(kv[1]))[:TOP_SHARES]
    return [_component(name, value) for name, value in ranked]


def explanation_message(e: Explanation, w: Writes | None, writes_error: str) -> dict[str, Any]:
    pairs = [
        {"query": _component(a, v), "key": _component(b, v), "label": pair_label(e, a, b), "value": v, "text": number(v)}
        for a, b, v in e.terms[:TOP_PAIRS]
    ]
    message: dict[str, Any] = {
        "layer": e.layer,
        "head": e.head,
        "query": e.query,
        "key": e.key,
        "query_token": e.query_token,
        "key_token": e.key_token,
        "title": f"L{e.layer}H{e.head}: '{e.query_token}' → '{e.key_token}'",
        "score": number(e.score),
        "note": _note(e),
        "pairs": pairs,
        "by_query": _shares(e.by_query),
        "by_key": _shares(e.by_key),
        "promoted": [] if w is None else [{"token": t, "text": number(v)} for t, v in w.promoted[:TOP_TOKENS]],
        "suppressed": [] if w is None else [{"token": t, "text": number(v)} for t, v in w.suppressed[:TOP_TOKENS]],
        "writes_error": writes_error,
    }
    return message


def _note(e: Explanation) -> str:
    notes = ["norm scales frozen at this pass"]
    if e.softcap is not None:
        notes.append(f"before soft-capping at {e.softcap:g} (capped: {number(e.capped_score)})")
    if e.masked:
        notes.append("masked: this query never sees this key")
    return "; ".join(notes)


def explain_reply(widget: Any, content: dict[str, Any]) -> dict[str, Any]:
    """Answer ``{"type": "explain", "id", "layer", "head", "query", "key"}``; a refusal is an error reply."""
    out: dict[str, Any] = {"type": "explain", "id": content.get("id") if isinstance(content.get("id"), str) else None}
    try:
        cell = [content.get(name) for name in ("layer", "head", "query", "key")]
        e = widget.explain(*cell)
        try:
            w, why = widget.writes(e.layer, e.head, e.query, k=TOP_TOKENS), ""
        except (NotImplementedError, ValueError) as err:
            w, why = None, str(err)
        return {**out, "ok": True, "explanation": explanation_message(e, w, why)}
    except Exception as err:  # noqa: BLE001 - the panel shows why; the kernel keeps answering
        return {**out, "ok": False, "error": str(err)[:500]}
