"""Drop-in calls for people coming from other tools: bertviz's ``head_view`` and ``model_view``
(``bertviz.py``). TransformerLens caches become captures in ``capturing/transformer_lens.py``."""
