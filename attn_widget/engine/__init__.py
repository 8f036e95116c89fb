"""Numbers from a capture, without traitlets or the wire: tiles of any window at any level
(``tiles.py``, ``row_stats.py``), grid metrics and detectors (``metrics.py``, ``detectors.py``, ``grid_scores.py``),
heads made of heads (``derived_heads.py``, ``comparison.py``) and the table of heatmap quantities (``sources.py``)."""
