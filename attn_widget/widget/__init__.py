"""The Jupyter widget: ``AttentionWidget`` (traits and the Python API) and the plain collaborators it
delegates to."""

from .attention_widget import AttentionWidget

__all__ = ["AttentionWidget"]
