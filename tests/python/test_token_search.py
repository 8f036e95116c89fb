"""The token search's rule in Python (w.search_matches), the same the page applies
(js/views/token_search.ts; tests/js/token_search.test.ts runs the same cases there)."""

from __future__ import annotations

from attn_widget import AttentionWidget
from attn_widget.widget.token_search import token_matches
from tests.support.arrays import softmax_attention

TOKENS = ["The", " cat", " sat", " on", " the", " mat", "THEN"]


def test_a_token_matches_a_substring_of_its_label_with_case_ignored_and_spaces_counted() -> None:
    assert token_matches(TOKENS, "the") == [0, 4, 6]
    assert token_matches(TOKENS, "THE") == [0, 4, 6]
    assert token_matches(TOKENS, " the") == [4]
    assert token_matches(TOKENS, "at") == [1, 2, 5]
    assert token_matches(TOKENS, "") == []
    assert token_matches(TOKENS, "dog") == []


def test_w_search_is_a_plain_trait_and_search_matches_follows_it() -> None:
    w = AttentionWidget(softmax_attention(layers=1, heads=1, n=len(TOKENS)), TOKENS, search="at")
    try:
        assert w.search == "at" and w.search_matches == [1, 2, 5]
        w.search = "The"
        assert w.search_matches == [0, 4, 6]
        assert w.get_state()["search"] == "The"  # synced: the page finds and marks the same
        w.search = ""
        assert w.search_matches == []
    finally:
        w.close()


def test_every_occurrence_in_32768_tokens() -> None:
    tokens = [" Needle" if i % 1000 == 7 else f" w{i}" for i in range(32768)]
    found = token_matches(tokens, "needle")
    assert found == list(range(7, 32768, 1000)) and len(found) == 33
