"""What bertviz's ``html_action="return"`` gives: an ``IPython.display.HTML`` whose ``.data`` is a
page, so bertviz's recipe ``open("view.html", "w").write(head_view(..., html_action="return").data)``
writes a file. Ours is the widget's offline page (``w.to_html``'s: bundle and data inline, no
network); ``.widget`` is the live widget, and displaying the object shows that widget rather
than pasting a whole HTML document into the notebook's page.
"""

from __future__ import annotations

import warnings
from typing import Any

from IPython.display import HTML

from ..export.page import PageTooLarge


class ReturnedPage(HTML):
    """``.data``: the offline page (str). ``.widget``: the ``AttentionWidget`` it was made from."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        super().__init__(data=_page(widget))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.widget._repr_mimebundle_()

    def _repr_html_(self) -> None:  # the widget's bundle is the display; the page is .data
        return None


def _page(widget: Any) -> str:
    """Every head when the page stays under ``to_html``'s size limit; else the selected layer's
    heads, else the selected head, with a warning that says which and how to write others."""
    layer, head = max(widget.layer, 0), max(widget.head, 0)
    tries: list[tuple[str, Any]] = [
        ("every head", "all"),
        (f"the heads of layer {layer}", [(layer, h) for h in range(widget.n_heads)]),
        (f"layer {layer}, head {head}", [(layer, head)]),
    ]
    for i, (words, heads) in enumerate(tries):
        try:
            html = widget.page_html(heads)
        except PageTooLarge:
            if i == len(tries) - 1:
                raise
            continue
        if i:
            warnings.warn(
                f"html_action='return': every head would make the page too large, so it holds {words}; "
                "write others with .widget.to_html(path, heads=[(layer, head), ...])",
                UserWarning,
                stacklevel=4,
            )
        return html
    raise AssertionError("unreachable")
