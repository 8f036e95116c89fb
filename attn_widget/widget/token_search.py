"""Token search: which positions of an axis a search text finds. The page finds them itself (it has
the tokens; js/views/token_search.ts), so nothing but the text travels; this is the same rule for
Python, behind ``w.search_matches``.

A token matches when the text, as typed (spaces count), is a substring of the token's label with
case ignored (both lower-cased); the empty text matches nothing."""

from __future__ import annotations

from collections.abc import Sequence


def token_matches(tokens: Sequence[str], text: str) -> list[int]:
    """The positions of ``tokens`` whose label contains ``text``, case ignored, ascending."""
    if not text:
        return []
    needle = text.lower()
    return [i for i, token in enumerate(tokens) if needle in token.lower()]
