"""Writes notebooks/grounding.ipynb (outputs stripped): the brief's grounding figure, reproduced on
the small model that scripts/train_grounding.py trains and the package ships."""

from make_demo import write_notebook

CELLS = [
    (
        "markdown",
        """# Symbol grounding, seen through attention × gradient

This reproduces the picture the project started from (Wu, Ma, Luo et al., *The Mechanistic
Emergence of Symbol Grounding in Language Models*, arXiv:2510.13796, Figure 1): a 12 × 12
layer/head grid in which a few heads stand out, joined to a word-level saliency strip over

`<CHI> painted a picture of a horse <CHI> my favorite animal is the`

where **horse** is the most salient word for predicting the next word.

**Honest about the model.** No GPT-style weights can be downloaded here, so this is *not* the
paper's model. It is a small GPT-2-shaped model (12 layers × 12 heads, width 96, word-level
vocabulary) that `scripts/train_grounding.py` trains on a CPU in about ten minutes on synthetic
child-directed sequences of the brief's shape: an environment part (`<ENV>`, what the child did,
naming an object, sometimes two of different categories) and a language part (`<LAN>`, what the
child says), whose last word is the environment's object of the category asked for. The weights
ship in the package (`attn_widget/grounding_model/`, with `training.json`).""",
    ),
    (
        "code",
        """import json
from attn_widget import AttentionWidget
from attn_widget.grounding import MODEL_DIR, load_grounding_model, spans

model, tokenizer = load_grounding_model()
print(json.loads((MODEL_DIR / "training.json").read_text()))

text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
words = text.split()
print(spans(words))""",
    ),
    (
        "markdown",
        """## The widget

- **Grid**: *saliency flow into the target row*, Σ over the keys of a span (first `<ENV>`, then the
  noun alone) of |A·∂L/∂A| in the row of the last token: how much each head carries that span to
  the prediction of the next word.
  Switch the grid to *head importance* (∂L/∂ξ for a gate ξ on each head's output) in the toolbar.
- **Heatmap**: attention × gradient A·∂L/∂A of the selected head (colour = size, tooltip = signed
  value); switch it back to plain attention in the toolbar.
- **Strip**: the same head's attention × gradient row for the prediction, with its own colour
  bar; the strip's control also offers gradient × input, integrated gradients and rollout.
- **Target**: the loss is L = −log p(**horse** | text). Type another word in the *target* box,
  or click a query label of the heatmap to explain the prediction after that token; Python
  recomputes and the widget says so while it does.""",
    ),
    (
        "code",
        """w = AttentionWidget.from_model(
    model, tokenizer, text,
    saliency=True, target="horse", spans=spans(words),
    grid_metric="saliency_flow", flow_span="<ENV>",
    heatmap_quantity="attention_x_gradient", strip_method="attention_x_gradient",
)
w""",
    ),
    (
        "markdown",
        """The grid above colours each head by the saliency flowing from all of `<ENV>` into the
prediction. Which heads carry the *ground* itself, the noun? Name it as a span and let the grid
read the flow from it alone; then select the head at the top (the widget follows).""",
    ),
    (
        "code",
        """import numpy as np

s = w.saliency
t = s.target.position
noun = words.index("horse")
print(f"target: {s.target.description}, p = {np.exp(s.f):.3f}")
env_flow = w.scores()
top = np.argsort(env_flow.ravel())[::-1][:3]
print("brightest heads for <ENV> -> prediction (layer, head, flow):",
      [(int(i) // w.n_heads, int(i) % w.n_heads, round(float(env_flow.ravel()[i]), 4)) for i in top])

w.spans = spans(words) + [("ground", noun, noun + 1)]
w.flow_span = "ground"
flow = w.scores()
w.layer, w.head = divmod(int(flow.argmax()), w.n_heads)
print(f"head carrying 'horse' to the prediction: layer {w.layer}, head {w.head} "
      f"(attention the -> horse {s.attention[w.layer, w.head, t, noun]:.2f})")
row = np.abs(s.attention_x_gradient[w.layer, w.head, t])
print(f"most salient token for that head: {s.tokens[int(row.argmax())]}")
per_layer = np.abs(s.attention_x_gradient[:, :, t]).sum(axis=1)  # (layers, tokens)
print("most salient token per layer (all heads):", [s.tokens[int(i)] for i in per_layer.argmax(axis=1)])""",
    ),
    (
        "markdown",
        """## Other views of the same prediction

Gradient × input and integrated gradients ask how the log-probability of *horse* depends on each
token's embedding; integrated gradients come with their completeness gap (how far the scores'
sum is from f(x) − f(baseline): small means the integral was computed well, not that the
explanation is right). Rollout ignores the target altogether.""",
    ),
    (
        "code",
        """from attn_widget import attribution as attr

gxi = attr.gradient_x_input(model, tokenizer, text, "horse")
ig = attr.integrated_gradients(model, tokenizer, text, "horse", steps=64)
roll = attr.attention_rollout(model, tokenizer, text)[t]
for name, v in [("gradient x input", gxi), ("integrated gradients", ig), ("rollout row", roll)]:
    print(f"{name:22s} top token: {s.tokens[int(np.abs(v).argmax())]:8s}", np.round(v, 3))
print(f"integrated gradients completeness gap: {ig.completeness_gap:.2e} (f(x) - f(baseline) = {ig.f_input - ig.f_baseline:.3f})")
ig256 = attr.integrated_gradients(model, tokenizer, text, "horse", steps=256)
print(f"with 256 steps the gap is {ig256.completeness_gap:.2e}: the path from zero embeddings is steep")""",
    ),
    (
        "markdown",
        """## Is the head really needed? First-order estimate against ablation

Head importance I = ∂L/∂ξ estimates the loss change from removing a head as −I (first order
only). Zeroing the head's gate measures it.""",
    ),
    (
        "code",
        """layer, head = w.layer, w.head
before = attr.gate_loss(model, tokenizer, text, "horse")
gates = [1.0] * w.n_heads
gates[head] = 0.0
after = attr.gate_loss(model, tokenizer, text, "horse", head_values={layer: gates})
print(f"head ({layer}, {head}): estimated ΔL = {-s.head_importance[layer, head]:.3f}, measured ΔL = {after - before:.3f}")""",
    ),
    (
        "markdown",
        """## Is the "horse" head a known kind of head?

Head detectors colour the grid by a head's known job (defined in the README): **previous-token**
(weight on the token just before), **duplicate-token** and **first-token**, on this text; and
**induction** (weight on the token that followed an earlier copy of the current token) on a
probe made for it: random words, repeated once, where a head that completes repeated sequences
lights up on the second copy. For a causal head attending uniformly, the induction score on this
probe would be about 0.04 (chance): compare with it. Is the head that carries *horse* one of
these, or something else?""",
    ),
    (
        "code",
        """def ranked(scores, layer, head):
    return int((scores > scores[layer, head]).sum()) + 1  # 1 = the highest of all heads

previous = w.scores("previous_token")
probe = AttentionWidget.induction_probe(model, tokenizer, length=15, seed=0)
induction = probe.scores("induction")
n = previous.size
for name, scores in [("previous token (this text)", previous), ("induction (the probe)", induction)]:
    best = np.unravel_index(int(scores.argmax()), scores.shape)
    print(f"{name:28s} best head L{best[0]}H{best[1]} = {scores[best]:.3f}; "
          f"the 'horse' head L{w.layer}H{w.head} = {scores[w.layer, w.head]:.3f} (rank {ranked(scores, w.layer, w.head)} of {n})")
w.grid_metric = "previous_token"  # the grid above now shows previous-token heads; its "mean" row and
probe                             # column average heads; the probe's grid shows induction""",
    ),
    (
        "markdown",
        """On this model the head that carries *horse* to the prediction is neither a previous-token
head nor an induction head: its scores sit near the bottom and near chance. It looks at the
noun for what the noun *is*, not for where it is, which is what a grounding head should do; the
previous-token heads exist (some put about half their weight on the preceding word), and no head
is a strong induction head (the best is about 0.12: a 12-layer model trained for ten minutes
on short synthetic sentences had little reason to learn to copy).""",
    ),
    (
        "markdown",
        """## Cautions

- **Attention is not explanation.** A weight says where a head looked, not why the model
  predicted anything; a head can attend strongly to a token and contribute nothing.
- **Gradients are first-order.** A·∂L/∂A and ∂L/∂ξ describe infinitesimal changes around this
  input; removing a head is not infinitesimal (compare the two numbers above).
- **Colours are magnitudes.** The heatmap and strip colour |A·∂L/∂A|; the sign (does the weight
  push the loss up or down?) is in the tooltip.
- **A toy model.** It learned one synthetic task; what grounding heads look like in a real
  language model is the paper's question, not this notebook's answer.""",
    ),
]


if __name__ == "__main__":
    write_notebook(CELLS, "grounding.ipynb")
