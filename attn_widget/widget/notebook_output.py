"""What a widget leaves in a notebook beyond its live view: a static picture in its output
(``static_picture.py``) and, on request, the numbers its offline page needs (``notebook_page.py``).
``AttentionWidget`` inherits this one mixin."""

from __future__ import annotations

from .notebook_page import NotebookPage
from .static_picture import StaticPicture


class NotebookOutput(StaticPicture, NotebookPage):
    """The widget's notebook output: ``image/png`` in its mime bundle, ``keep_in_notebook``, ``page_html``."""
