"""Why a head attends where it does, exactly: a cell's pre-softmax score as a sum of (query
component x key component) terms over the residual stream's parts (``score.py``), with the norms'
scales frozen at the forward pass's values (``stream.py``), and what a head writes towards the
output by direct logit attribution (``logits.py``). The parts are recorded by
``capturing/residuals/``; ``w.explain`` and ``w.writes`` (``widget/explaining.py``) call these."""

from .logits import Writes, writes_at
from .score import Explanation, Term, explain_cell
from .stream import Stream, stream_before

__all__ = ["Explanation", "Stream", "Term", "Writes", "explain_cell", "stream_before", "writes_at"]
