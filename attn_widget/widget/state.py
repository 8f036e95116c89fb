"""The widget's synced state: every trait the page reads or sets, its type, default and meaning.

``AttentionWidget`` inherits this schema and adds the behaviour; the collaborators it delegates
to (grid_feed.py, messages.py, saliency_panel.py, status.py) read and set these traits through a
``WidgetState``, which is all they know of the widget. Traits stay flat on one class: saved
notebooks and the offline page read them by name. Data traits (underscore names) carry payloads
(``wire/payloads.py``) and what the controls offer; public ones are the API.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from .. import _bundle
from ..wire.axis import flags_to_json, same_as_keys
from .token_search import token_matches
from .traits import Index, OneOf, Queries, Spans, Window


class WidgetState(anywidget.AnyWidget):
    _esm = _bundle.esm()
    _css = _bundle.css()

    # ------------------------------------------------------------ shape and token axes (kernel -> page)
    # Columns are keys (``tokens``), rows are queries (``_query_tokens``): the same list for
    # self-attention, decoder vs encoder tokens for cross-attention. Token lists are checked once,
    # where the capture is made: element traits would check every element on every set (0.65 s at
    # 32,768 tokens). On the wire (wire/axis.py) flags are bytes and equal query lists null.
    kinds = traitlets.List(
        traitlets.Dict(),
        read_only=True,
        help="list[dict], read-only: the attention kinds this widget can show, as {id, label}; default from the capture",
    ).tag(sync=True)
    tokens = traitlets.List(
        read_only=True, help="list[str], read-only: the keys' tokens (the heatmap's columns); default from the input"
    ).tag(sync=True)
    special = traitlets.List(
        read_only=True,
        help="list[bool], read-only: per key token, True for special tokens ([CLS], <s>, padding); default all False",
    ).tag(sync=True, to_json=flags_to_json)
    generated = traitlets.List(
        read_only=True,
        help="list[bool], read-only: per key token, True where it was generated (from_generate); default all False",
    ).tag(sync=True, to_json=flags_to_json)
    _query_tokens = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("tokens"))
    _query_special = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("special", flags_to_json))
    _query_generated = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("generated", flags_to_json))
    n_layers = traitlets.Int(read_only=True, help="int, read-only: layers of the kind shown; default from the input").tag(
        sync=True
    )
    n_heads = traitlets.Int(read_only=True, help="int, read-only: heads per layer of the kind shown; default from the input").tag(
        sync=True
    )
    n_tokens = traitlets.Int(
        read_only=True, help="int, read-only: key positions (the heatmap's columns); default from the input"
    ).tag(sync=True)
    n_queries = traitlets.Int(
        read_only=True, help="int, read-only: query positions (the heatmap's rows); default from the input"
    ).tag(sync=True)
    compare_labels = traitlets.List(
        read_only=True, help="list[str], read-only: the names of runs a and b (AttentionWidget.compare); [] otherwise; default []"
    ).tag(sync=True)

    # ------------------------------------------------------------ the selection and the view (both ways)
    kind = OneOf(
        "self",
        choices="_kind_ids",
        help="str: the attention shown ('self', or 'encoder', 'decoder', 'cross'); default the capture's first kind",
    ).tag(sync=True)
    layer = Index(
        0,
        size="n_layers",
        minus_one="the mean over layers",
        help="int: the selected layer, 0-based; -1 = the mean over layers (of head `head`, or of every head); default 0",
    ).tag(sync=True)
    head = Index(
        0,
        size="n_heads",
        minus_one="the mean over heads",
        help="int: the selected head in that layer, 0-based; -1 = the mean over the heads of `layer`; default 0",
    ).tag(sync=True)
    query = Index(
        -1, size="n_queries", minus_one="none", help="int: the selected query (heatmap row), 0-based; -1 = none; default -1"
    ).tag(sync=True)
    key = Index(
        -1, size="n_tokens", minus_one="none", help="int: the selected key (heatmap column), 0-based; -1 = none; default -1"
    ).tag(sync=True)
    queries = Queries(
        help="list[int]: several selected queries (shift-drag); the strip shows their mean row; [] = none; default []"
    ).tag(sync=True)
    window = Window(help="list[int]: the heatmap's visible [q0, q1, k0, k1], end exclusive; [] = everything; default []").tag(
        sync=True
    )
    search = traitlets.Unicode(
        "",
        help="str: the token search: keys whose label contains it, case ignored, are marked (w.search_matches lists them); '' = none; default ''",
    ).tag(sync=True)
    grid_metric = OneOf(
        "entropy",
        choices="_metric_ids",
        help="str: what colours the grid (w._grid_metric_options lists what is offered); default 'entropy' (a comparison: 'js_divergence')",
    ).tag(sync=True)
    heatmap_quantity = OneOf(
        "attention",
        choices="_quantity_ids",
        help="str: what the heatmap shows: 'attention', 'attention_x_gradient' (saliency), 'rollout' (self-attention kinds), or 'difference' (b - a), 'a', 'b' (compare); default 'attention' (a comparison: 'difference')",
    ).tag(sync=True)

    # ------------------------------------------------------------ saliency (from_model(..., saliency=True))
    saliency_available = traitlets.Bool(
        False,
        read_only=True,
        help="bool, read-only: the widget explains a prediction (from_model(..., saliency=True)); default False",
    ).tag(sync=True)
    strip_method = OneOf(
        "attention",
        choices="_strip_method_ids",
        help="str: what the strip shows ('attention', 'attention_x_gradient', 'gradient_x_input', 'integrated_gradients', 'rollout'); default 'attention'",
    ).tag(sync=True)
    strip_label = traitlets.Unicode(read_only=True, help="str, read-only: the strip's caption; default ''").tag(sync=True)
    target_position = Index(
        -1,
        size="n_tokens",
        minus_one="the last token",
        help="int: explain the prediction after this token; -1 = the last token; default -1",
    ).tag(sync=True)
    target_token = traitlets.Unicode(
        "", help="str: the word whose prediction is explained; '' = the top prediction; default ''"
    ).tag(sync=True)
    target_label = traitlets.Unicode(read_only=True, help="str, read-only: what is explained, in words; default ''").tag(
        sync=True
    )
    spans = Spans(help="list[dict]: named token ranges {name, start, end} (end exclusive), drawn as brackets; default []").tag(
        sync=True
    )
    flow_span = traitlets.Unicode(
        "", help="str: the span whose keys the saliency-flow metric sums over; '' = all; default ''"
    ).tag(sync=True)

    # ------------------------------------------------------------ Python at work (kernel -> page)
    busy = traitlets.Bool(False, read_only=True, help="bool, read-only: True while Python recomputes; default False").tag(
        sync=True
    )
    status = traitlets.Unicode(
        read_only=True, help="str, read-only: the status line (what is computing, or what failed); default ''"
    ).tag(sync=True)

    # ------------------------------------------------------------ live generation (AttentionWidget.generate)
    generating = traitlets.Bool(
        False, help="bool: True while the model is still writing (generate); set it to False to stop; default False"
    ).tag(sync=True)
    step = traitlets.Int(0, read_only=True, help="int, read-only: tokens generated so far (generate); default 0").tag(sync=True)
    _generation = traitlets.Dict(read_only=True).tag(sync=True)  # the progress line: {line, step, max, rate, done, error}
    _candidates = traitlets.Dict(read_only=True).tag(sync=True)  # what="candidates": each generated token's top k
    _candidates_recent = traitlets.Dict(read_only=True).tag(sync=True)  # the same for tokens since _candidates was sent
    _forks = traitlets.List(traitlets.Unicode(), read_only=True).tag(sync=True)  # model ids of forked comparisons

    # ------------------------------------------------------------ payloads and options (kernel -> page)
    _grid_metric_options = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    _strip_methods = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    _grid_scores = traitlets.Dict(read_only=True).tag(sync=True)  # what="scores"
    _attention_data = traitlets.Dict(read_only=True).tag(sync=True)  # what="heads" (eager widgets), else {}
    _strip_values = traitlets.Dict(read_only=True).tag(sync=True)  # what="strip": a saliency method's vector
    _queries_row = traitlets.Dict(read_only=True).tag(sync=True)  # what="strip", method="queries": their mean row
    _saliency_version = traitlets.Int(0, read_only=True).tag(sync=True)  # +1 per recomputation; older tiles refused
    # The image panel (a capture with images=): the pictures once, and the patch maps of the kind
    # shown, its keys' and, where they differ, its queries' (null on the wire when the same).
    _images = traitlets.Dict(read_only=True).tag(sync=True)  # what="images", {} without pictures
    _patches = traitlets.Dict(read_only=True).tag(sync=True)  # what="patches": the keys', {} for text
    _query_patches = traitlets.Dict(read_only=True).tag(sync=True, to_json=same_as_keys("_patches", lambda v, w: v))

    #: False until ``__init__`` has set every trait, and while a kind switch reloads them: observers
    #: that send payloads or start work wait for it (docs/architecture.md, "Ordering rules").
    _ready = False

    # What the OneOf traits accept now, from the state above (a quantity list is set once, at birth).
    _quantities: tuple[str, ...] = ("attention",)

    def _kind_ids(self) -> list[str]:
        return [k["id"] for k in self.kinds]

    def _metric_ids(self) -> list[str]:
        return [o["id"] for o in self._grid_metric_options]

    def _quantity_ids(self) -> list[str]:
        return list(self._quantities)

    def _strip_method_ids(self) -> list[str]:
        return [m["id"] for m in self._strip_methods] or ["attention"]

    @traitlets.validate(
        "kind",
        "layer",
        "head",
        "query",
        "key",
        "queries",
        "window",
        "grid_metric",
        "heatmap_quantity",
        "strip_method",
        "target_position",
        "spans",
    )
    def _in_context(self, proposal: dict[str, Any]) -> Any:
        """Each of these traits checks its value against the widget (traits.py)."""
        return proposal["trait"].check(self, proposal["value"])

    @traitlets.validate("flow_span")
    def _valid_flow_span(self, proposal: dict[str, Any]) -> str:
        names = [s["name"] for s in self.spans]
        if proposal["value"] not in ["", *names]:
            raise traitlets.TraitError(f"flow_span must be '' (all tokens) or one of {names}, got {proposal['value']!r}")
        return proposal["value"]

    @property
    def search_matches(self) -> list[int]:
        """The key positions ``search`` finds, ascending: what the page marks and counts."""
        return token_matches(self.tokens, self.search)

    def span_range(self, name: str | None = None) -> tuple[int, int] | None:
        """(start, end) of the span called ``name`` (default ``flow_span``); None for all tokens."""
        wanted = self.flow_span if name is None else name
        return next(((s["start"], s["end"]) for s in self.spans if s["name"] == wanted), None)
