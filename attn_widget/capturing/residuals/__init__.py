"""What the residual stream is made of, recorded for ``w.explain`` and ``w.writes``: each family's
block structure (``families.py``: where its embeddings, norms, projections and branches are),
one forward pass's parts (``recording.py``: the heads' outputs before the output projection, the
MLPs' additions, every norm's scale) and how to run that pass again for a capture
(``source.py``). The arithmetic on them is in ``attribution/decomposition/``."""

from .families import REFUSED_FAMILIES, Norm, Structure, structure_of
from .recording import ResidualRecording, recording_residuals
from .source import ExplainSource, recorded_residuals, remember_source, residuals_fit, residuals_kept, source_of

__all__ = [
    "REFUSED_FAMILIES",
    "ExplainSource",
    "Norm",
    "ResidualRecording",
    "Structure",
    "recorded_residuals",
    "recording_residuals",
    "remember_source",
    "residuals_fit",
    "residuals_kept",
    "source_of",
    "structure_of",
]
