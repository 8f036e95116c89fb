"""Getting attention out of a model or an array: a ``Capture`` (``result.py``) made by running a model once
(``run.py``, with ``recorder.py`` recording queries and keys), from arrays (``arrays.py``) or from a
TransformerLens cache (``transformer_lens.py``). Imports nothing else of the package."""
