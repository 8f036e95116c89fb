"""What a saved notebook keeps of a widget for its offline page (``jupyter nbconvert --to
attn_html``), and the page itself as text.

A notebook saves each widget's synced state. An eager widget's state holds every head
(``_attention_data``), so its page works from it alone. A lazy widget (heads sent as tiles on
request, ``eager_bytes`` exceeded) holds its grid, tokens and selection but no head: the numbers
are in the kernel. ``w.keep_in_notebook(heads=...)`` puts those heads (and every grid colour and
saliency strip, as ``to_html`` does) in one more synced trait, ``_notebook_page``, so the saved
state carries them; it is refused above ``max_bytes`` (one message; Jupyter drops large ones).
Without it the page shows the grid and says the heads were not saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import traitlets

from ..export.page import DEFAULT_MAX_BYTES, PageTooLarge, build_page, check_heads, heads_section
from ..wire.protocol import MAX_MESSAGE_BYTES


class NotebookPage(traitlets.HasTraits):
    """Mixin for ``AttentionWidget``: the page's data kept in the notebook on request, and the
    page as a string. Uses the widget's own collaborators, as ``to_html`` does."""

    _notebook_page = traitlets.Dict(
        help="dict: the heads (dec3), grids and strips w.keep_in_notebook() keeps for the notebook's offline page; {} = none"
    ).tag(sync=True)

    def keep_in_notebook(self, heads: str | Sequence[tuple[int, int]] = "all", *, max_bytes: int = MAX_MESSAGE_BYTES) -> int:
        """Keep ``heads`` (``"all"`` or ``(layer, head)`` pairs) of the kind shown in the widget's
        saved state, so that ``jupyter nbconvert --to attn_html`` draws them without a kernel.

        Only needed when ``w.eager`` is False (an eager widget's state holds every head). Every
        grid colour and saliency strip is kept with them. Refused above ``max_bytes`` (the trait
        travels to the page in one message); pass fewer heads, or write ``w.to_html(...)``. Switching
        ``kind`` drops what was kept. ``heads=[]`` drops it too. Returns the bytes kept.
        """
        w: Any = self
        if not isinstance(heads, str) and len(list(heads)) == 0:
            self._notebook_page = {}
            return 0
        chosen, quantities, grids, strips = _ingredients(w, heads)
        _, _, n_q, n_k = w._kind().shape
        estimate = 2 * n_q * n_k * len(chosen) * len(quantities)
        if estimate > max_bytes:
            per_head = 2 * n_q * n_k * len(quantities)
            raise PageTooLarge(
                f"keep_in_notebook: {len(chosen)} heads of {n_q} x {n_k} weights take {estimate / 1e6:.1f} MB, above "
                f"max_bytes = {max_bytes / 1e6:.1f} MB (at most {max(0, max_bytes // per_head)} fit). Keep fewer heads, "
                "e.g. heads=[(layer, head)], or write a page with w.to_html(path, heads=...)"
            )
        section = heads_section(w._kind(), chosen, quantities)
        self._notebook_page = {"what": "page", "heads": section, "grids": grids, "strips": strips}
        return estimate

    def page_html(self, heads: str | Sequence[tuple[int, int]] = "all", *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
        """The page ``to_html`` writes, as a string (what bertviz's ``html_action="return"`` gives
        in ``.data``)."""
        w: Any = self
        chosen, quantities, grids, strips = _ingredients(w, heads)
        return build_page(w.get_state(), w._kind(), chosen, quantities, grids, strips, max_bytes)

    @traitlets.observe("kind")
    def _drop_kept_page(self, change: dict[str, Any]) -> None:
        if self._notebook_page:  # the heads kept belong to the kind shown before
            self._notebook_page = {}


def _ingredients(w: Any, heads: str | Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int]], Any, Any, Any]:
    chosen = check_heads(heads, w.n_layers, w.n_heads)
    grids = w._grid_feed.page_grids(w.kind, [s["name"] for s in w.spans], w.span_range)
    strips = w._saliency.page_strips(chosen)
    quantities = w._sources.page_quantities(w.kind, w.heatmap_quantity)
    return chosen, quantities, grids, strips
