"""attn_widget: look inside transformer attention, live in a Jupyter cell."""

from .demo import demo
from .widget import AttentionWidget

__all__ = ["AttentionWidget", "demo"]
__version__ = "0.1.0"
