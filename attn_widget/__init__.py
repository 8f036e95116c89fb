"""attn_widget: look inside transformer attention, live in a Jupyter cell."""

from .capturing.result import Capture
from .capturing.run import capture
from .demo import demo
from .interop.bertviz import head_view, model_view
from .widget.attention_widget import AttentionWidget

__all__ = ["AttentionWidget", "Capture", "capture", "demo", "head_view", "model_view"]
__version__ = "0.1.0"
