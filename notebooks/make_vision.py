"""Writes notebooks/vision.ipynb (outputs stripped): pixels as tokens, on the small captioning model
that scripts/train_vision.py trains and the package ships, and on a random ViT over a real photo.

The head the markdown names is read from attn_widget/vision_model/training.json when the notebook
is written, so run this again after retraining."""

import json
import pathlib

from make_demo import write_notebook

RECORD = json.loads((pathlib.Path(__file__).resolve().parents[1] / "attn_widget" / "vision_model" / "training.json").read_text())
COLOUR_HEAD = "L{}H{}".format(*RECORD["grounding"]["by_query"]["colour"]["best_head"])
NOUN_HEAD = "L{}H{}".format(*RECORD["grounding"]["by_query"]["noun"]["best_head"])

CELLS = [
    (
        "markdown",
        """# Pixels are tokens: where do the caption's words look in the picture?

A vision-language model turns a picture into a grid of patch tokens and puts them in the text's
sequence; its language model then attends to them like to any word. This notebook shows that
attention on a model small enough to be trained here, and measures how often it lands on the
thing a word names.

**Honest about the model.** No pretrained vision weights can be downloaded here, so this is a toy:
a LLaVA-shaped model (a CLIP vision tower of 2 layers and a Llama language model of 4 layers x 4
heads, width 64, about a quarter of a million parameters) that `scripts/train_vision.py` trains on
this CPU in minutes, on synthetic 64 x 64 scenes of two coloured shapes with a caption such as
*a red circle above a blue square*. It was trained on captioning only (next-token loss on the
caption given the picture); nothing told it where the shapes are. The weights ship in the package
(`attn_widget/vision_model/`, with `training.json`: the recipe and what it measured).""",
    ),
    (
        "code",
        """import json
from PIL import Image
from attn_widget import AttentionWidget
from attn_widget.vision_demo import MODEL_DIR, TEST_SEED, load_vision_model, scenes, word_positions

model, processor = load_vision_model()
record = json.loads((MODEL_DIR / "training.json").read_text())
print({k: record[k] for k in ("family", "parameters", "steps", "batch", "seconds", "captioning_test")})

scene = scenes(1, TEST_SEED)[0]   # a held-out scene: the test stream, never trained on
print("true caption:", scene.caption)
Image.fromarray(scene.image).resize((192, 192), Image.NEAREST)""",
    ),
    (
        "markdown",
        """What does the model say about the picture on its own? (Greedy decoding from `<image>`; the
order of the two objects is the model's choice, so a caption can be right in the other order.)""",
    ),
    (
        "code",
        """import torch

enc = processor(text="<image>", images=scene.image, return_tensors="pt")
with torch.no_grad():
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
print("model's caption:", processor.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))""",
    ),
    (
        "markdown",
        f"""## The widget

Below: the language model's self-attention over the sequence `<bos>`, 64 image tokens
(`<img 0: r3 c7>` is the patch in row 3, column 7 of the 8 x 8 grid) and the caption. The widget
opens on head **{COLOUR_HEAD}** (the head that grounds the colour words best on the validation
scenes, chosen before the test scenes were scored) with the row of the first **colour word**
selected: the strip shows where that word looks.

- **Click** the row of the other colour word, or of a shape noun, in the heatmap: the strip shows
  its weights over the image tokens (hover them: `<img 0: rR cC>` names the patch).
- **Click** another head in the grid; {NOUN_HEAD} was the best on validation for the shape nouns.
- The *attention* control switches to `vision`, the tower's own self-attention among patches.""",
    ),
    (
        "code",
        """layer, head = record["grounding"]["by_query"]["colour"]["best_head"]
w = AttentionWidget.from_model(model, processor, scene.prompt, images=scene.image, kind="self", layer=layer, head=head)
colour_rows = word_positions(w.capture.kind("self").queries.tokens, scene, "colour")
w.query = colour_rows[0]
w""",
    ),
    (
        "markdown",
        """Where each colour word and each shape noun of this caption puts its largest weight among
the patches, for the head shown, and whether that patch is inside the shape it names (at least
half of the patch's pixels in the shape):""",
    ),
    (
        "code",
        """import numpy as np
from attn_widget.vision_demo import inside_patches

c = w.capture
patches = c.patches("self")      # token, image, x0, y0, x1, y1 (pixels of the 64 x 64 scene)
tokens = c.kind("self").queries.tokens
a = c.attention(layer, head, "self")
for query in ("colour", "noun"):
    for obj, row in zip(scene.objects, word_positions(tokens, scene, query)):
        weights = a[row, patches[:, 0]]
        top = int(weights.argmax())
        inside = inside_patches(patches, obj.mask)[top]
        print(f"L{layer}H{head} {tokens[row]!r:10} -> {tokens[patches[top, 0]]} box {patches[top, 2:].tolist()} "
              f"weight {weights[top]:.3f} ({weights.sum():.2f} on the picture in all); inside the {obj.colour} {obj.shape}: {inside}")""",
    ),
    (
        "markdown",
        """## How often does it ground? Measured on held-out scenes

`training.json` records the measurement (`attn_widget.vision_demo.measure_grounding`, which reads
the same capture the widget shows): for each shape word of 200 test scenes (400 words), take the
image patch its row attends to most (text keys, the `<bos>` sink included, left out) and count it a
hit when at least half of that patch's pixels lie in the named shape. The best single head is
chosen on 200 *validation* scenes, then scored on the test scenes; the mean over all 16 heads of
the language model needs no choice. Two rows are scored for each object: the **colour word** (the
row whose next word is the shape noun, so it has a reason to look) and the **shape noun** itself.
**Chance** is what a patch picked at random scores (the fraction of patches inside the shape);
**other shape** counts hits on the scene's *other* object, a head that finds shapes without
telling them apart scores as much there.""",
    ),
    (
        "code",
        """g = record["grounding"]
print(g["rule"])
for query, r in g["by_query"].items():
    print(f"\\nthe {query} word's row, {2 * g['test_scenes']} words of {g['test_scenes']} test scenes:")
    print(f"  best head L{r['best_head'][0]}H{r['best_head'][1]} (chosen on validation, {r['best_head_validation']:.3f} there): "
          f"{r['best_head_test']:.3f} inside the named shape, {r['best_head_other_shape_test']:.3f} inside the other one")
    print(f"  mean of all heads: {r['mean_over_heads_test']:.3f} inside the named shape, {r['mean_over_heads_other_shape_test']:.3f} inside the other")
    print(f"  chance: {r['chance_patches_test']:.3f} (a random patch); the shape covers {r['chance_area_test']:.3f} of the picture")""",
    ),
    (
        "markdown",
        """The same measurement, recomputed now on the first 20 test scenes (a smaller sample, so it
differs from the 200-scene number by sampling noise; `training.json` keeps this subset's values
too, and the tests check that they are reproduced):""",
    ),
    (
        "code",
        """from attn_widget.vision_demo import measure_grounding

measured = measure_grounding(model, processor, scenes(20, TEST_SEED), "colour")
print(f"first 20 test scenes, colour words: best head L{layer}H{head} {measured.head_rate(layer, head):.3f}, "
      f"mean of all heads {measured.mean_hits.mean():.3f}, chance {measured.chance.mean():.3f}")""",
    ),
    (
        "markdown",
        """**What the numbers mean.** A hit says the patch a head weights most lies on the object the
word names; far above chance and far above the other object, it says the head *finds* that object
in the picture, from the word alone.

**What they do not mean.** Attention is where a head looks, not why the model says what it says:
a head can look at the right patch and contribute nothing to the next word, and the vision tower
has already mixed information between patches, so the patch a head reads may carry more than its
own pixels. One argmax per row ignores how the rest of the weight is spread (the widget shows it).
And this is one toy model on one synthetic task: it says nothing about how a real
vision-language model grounds words.""",
    ),
    (
        "markdown",
        """## A vision transformer on a real photo (random weights)

The same widget on a vision-only model: a ViT over scikit-learn's bundled photo (`china.jpg`,
427 x 640), squeezed to 224 x 224 and cut into 7 x 7 patches of 32 pixels. **Its weights are
random** (no pretrained vision weights exist offline): what you see is how a random transformer
mixes patches (by their pixels' similarity and their position), not anything learned. The patch
map gives each token's box in the *original* photo's pixels.""",
    ),
    (
        "code",
        """from sklearn.datasets import load_sample_image
from attn_widget.vision_demo import random_vit

photo = load_sample_image("china.jpg")
vit, image_processor = random_vit()
v = AttentionWidget.from_model(vit, image_processor, images=photo)
boxes = v.capture.patches("vision")
print(v.capture, "| first tokens:", v.capture.kind("vision").keys.tokens[:3])
print(f"patch r0 c0 covers x {boxes[0, 2]}..{boxes[0, 4]}, y {boxes[0, 3]}..{boxes[0, 5]} of the {photo.shape[1]} x {photo.shape[0]} photo")
v""",
    ),
]


if __name__ == "__main__":
    write_notebook(CELLS, "vision.ipynb")
