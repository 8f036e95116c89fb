"""The synthetic grounding data of the brief's figure and the small model trained on it
(scripts/train_grounding.py), shipped in the package as the offline causal demo model.

A sequence has an environment part (``<ENV>``: what the child did or saw, naming an object) and a
language part (``<LAN>``: what the child says), each starting with the CHILDES speaker code
``<CHI>``. Predicting the last word of the language part needs the environment's noun.
"""

from __future__ import annotations

import pathlib
from typing import Any

MARKER = "<CHI>"
MODEL_DIR = pathlib.Path(__file__).parent / "grounding_model"

CATEGORIES: dict[str, list[str]] = {
    "animal": ["horse", "dog", "cat", "cow", "duck", "sheep", "pig", "bird", "fish", "rabbit", "lion", "bear"],
    "toy": ["ball", "doll", "truck", "kite", "train", "puzzle", "robot", "drum", "boat", "car"],
    "food": ["apple", "banana", "cookie", "cake", "bread", "cheese", "grape", "carrot", "egg", "pear"],
}

# {objects} becomes "a horse" or "a horse and a ball".
ENVIRONMENTS = [
    "painted a picture of {objects}",
    "saw {objects} at the park",
    "played with {objects}",
    "drew {objects} on the wall",
    "found {objects} in the box",
    "looked at {objects} in the book",
]
LANGUAGE = [
    "my favorite {category} is the",
    "i like the {category} it is the",
    "look mommy the {category} is the",
    "the best {category} is the",
]


def sentence(environment: str, nouns: list[str], language: str, category: str, answer: str | None = None) -> list[str]:
    """The words of one sequence; with ``answer`` the final (grounded) word is appended."""
    objects = " and ".join(f"a {n}" for n in nouns)
    words = [MARKER, *environment.format(objects=objects).split(), MARKER, *language.format(category=category).split()]
    return words + ([answer] if answer else [])


def spans(words: list[str]) -> list[tuple[str, int, int]]:
    """The ``<ENV>`` and ``<LAN>`` token spans (start, end exclusive) of a sequence's words."""
    second = words.index(MARKER, 1)
    return [("<ENV>", 0, second), ("<LAN>", second, len(words))]


def load_grounding_model() -> tuple[Any, Any]:
    """The shipped model (GPT-2 style, 12 layers x 12 heads, word-level) and its tokenizer."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    if not (MODEL_DIR / "config.json").exists():
        raise FileNotFoundError(f"no trained grounding model in {MODEL_DIR}: run `.venv/bin/python scripts/train_grounding.py`")
    model = GPT2LMHeadModel.from_pretrained(MODEL_DIR)
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    return model.eval(), tokenizer
