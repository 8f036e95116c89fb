"""attn_widget: look inside transformer attention, live in a Jupyter cell."""

from .bertviz_compat import head_view, model_view
from .capture import capture
from .capture_result import Capture
from .demo import demo
from .widget import AttentionWidget

__all__ = ["AttentionWidget", "Capture", "capture", "demo", "head_view", "model_view"]
__version__ = "0.1.0"
