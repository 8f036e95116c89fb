"""Writes notebooks/vision.ipynb (outputs stripped): pixels as tokens, on the small captioning model
that scripts/train_vision.py trains and the package ships, and on a random ViT over a real photo.

The heads the markdown names are read from attn_widget/vision_model/training.json when the notebook
is written, so run this again after retraining (tests/python/test_vision_demo.py executes it)."""

import json
import pathlib

from make_demo import write_notebook

RECORD = json.loads((pathlib.Path(__file__).resolve().parents[1] / "attn_widget" / "vision_model" / "training.json").read_text())
COLOUR = RECORD["grounding"]["by_query"]["colour"]
UNTRAINED_COLOUR = RECORD["grounding"]["untrained_control"]["by_query"]["colour"]
COLOUR_HEAD = "L{}H{}".format(*COLOUR["best_head"])
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
        f"""## The widget: the picture beside the heatmap

Below: the language model's self-attention over the sequence `<bos>`, 64 image tokens
(`<img 0: r3 c7>` is the patch in row 3, column 7 of the 8 x 8 grid) and the caption. The widget
opens on head **{COLOUR_HEAD}** (the head that grounds the colour words best on the validation
scenes, chosen before the test scenes were scored) with the row of the first **colour word**
selected. The **image panel** beside the heatmap draws that row over the picture, on the
heatmap's colour scale: the patches the word looks at light up.

- **Hover a patch**: `patch (row 3, col 7) · token 41 · weight 0.0123`, the digits Python computed.
- **Hover a row** of the heatmap (the other colour word, a shape noun): its row is drawn on the
  picture while the pointer rests there. **Click** it to keep it.
- **Click a patch**: it becomes the query, and the panel shows where that image token looks.
- **Click another head** in the grid; {NOUN_HEAD} was the best on validation for the shape nouns.
  The *overlay* slider sets how strongly the colours cover the picture.
- The *attention* control switches to `vision`, the tower's own self-attention among patches.""",
    ),
    (
        "code",
        """layer, head = record["grounding"]["by_query"]["colour"]["best_head"]
w = AttentionWidget.from_model(model, processor, scene.prompt, images=scene.image, kind="self", layer=layer, head=head)
colour_rows = word_positions(w.capture.kind("self").queries.tokens, scene, "colour")
w.query = colour_rows[0]  # the first colour word's row, drawn on the picture
w  # the same in one line: from attn_widget.vision_demo import vision_widget; vision_widget()""",
    ),
    (
        "markdown",
        """Where each colour word and each shape noun of this caption puts its largest weight among
the patches, for the head shown, and whether that patch is inside the shape it names (at least
half of the patch's pixels in the shape):""",
    ),
    (
        "code",
        """from attn_widget.vision_grounding import inside_patches

c = w.capture
patches = c.patches("self")      # token, image, x0, y0, x1, y1 (pixels of the 64 x 64 scene)
tokens = c.kind("self").queries.tokens
a = c.attention(layer, head, "self")
for query in ("colour", "noun"):
    for obj, row in zip(scene.objects, word_positions(tokens, scene, query)):
        weights = a[row, patches[:, 0]]
        top = int(weights.argmax())
        inside = inside_patches(patches, obj.mask)
        print(f"L{layer}H{head} {tokens[row]!r:10} -> {tokens[patches[top, 0]]} box {patches[top, 2:].tolist()} "
              f"weight {weights[top]:.3f}, inside the {obj.colour} {obj.shape}: {inside[top]}; "
              f"{weights[inside].sum():.2f} of the row on the shape, {weights.sum():.2f} on the picture in all")""",
    ),
    (
        "markdown",
        """## How often does it ground? Measured on held-out scenes

`training.json` records the measurement (`attn_widget.vision_grounding.grounding_by_query`, which
reads the same capture the widget shows) on 200 test scenes (400 words). For each object of the
caption, take the row of a word that names it and read it two ways, on the image's patches only
(text keys, the `<bos>` sink included, are left out):

- a **hit**: the patch with the row's largest weight has at least half of its pixels in the named shape;
- the **weight on the shape**: the share of the row's weight on the shape's patches.

The best single head is chosen on 200 *validation* scenes, then scored on the test scenes; the
mean over all 16 heads of the language model needs no choice. Two rows are scored for each
object: the **colour word** (the row whose next word is the shape noun, so it has a reason to
look) and the **shape noun** itself. The controls: the scene's **other shape** (a head that finds
shapes without telling them apart scores as much there), the **untrained** model (the same
architecture as initialised, before any training step) and **chance** (a patch picked at random).""",
    ),
    (
        "code",
        """g = record["grounding"]
for query, r in g["by_query"].items():
    u = g["untrained_control"]["by_query"][query]
    print(f"the {query} word's row, {2 * g['test_scenes']} words of {g['test_scenes']} test scenes:")
    print(f"  best head L{r['best_head'][0]}H{r['best_head'][1]} (chosen on validation): hits the named shape "
          f"{r['best_head_test']:.3f}, the other shape {r['best_head_other_shape_test']:.3f}; weight on the named shape "
          f"{r['best_head_mass_test']:.3f}, on the other {r['best_head_mass_other_shape_test']:.3f}")
    print(f"  mean of all heads: hits {r['mean_over_heads_test']:.3f} (other shape {r['mean_over_heads_other_shape_test']:.3f}); "
          f"weight {r['mean_over_heads_mass_test']:.3f} (other shape {r['mean_over_heads_mass_other_shape_test']:.3f})")
    print(f"  untrained, best head L{u['best_head'][0]}H{u['best_head'][1]}: hits {u['best_head_test']:.3f}, "
          f"weight {u['best_head_mass_test']:.3f}; chance {r['chance_patches_test']:.3f}")""",
    ),
    (
        "markdown",
        """The same measurement, recomputed now on the first 20 test scenes (40 words; a smaller
sample, so it differs from the 200-scene numbers by sampling noise), with the untrained control
rebuilt from the training script's seed (`untrained_vision_model()`). `training.json` keeps this
subset's values too, and the tests check that they are reproduced:""",
    ),
    (
        "code",
        """from attn_widget.vision_demo import untrained_vision_model
from attn_widget.vision_grounding import measure_grounding

first = scenes(20, TEST_SEED)
trained = measure_grounding(model, processor, first, "colour")
control = measure_grounding(untrained_vision_model(), processor, first, "colour")
ul, uh = record["grounding"]["untrained_control"]["by_query"]["colour"]["best_head"]
print(f"first 20 test scenes, colour words, head L{layer}H{head}: hits {trained.head_rate(layer, head):.3f} "
      f"(other shape {trained.head_other[:, layer, head].mean():.3f}; untrained L{ul}H{uh} {control.head_rate(ul, uh):.3f}), "
      f"weight on the shape {trained.mass(layer, head):.3f} (other shape {trained.mass(layer, head, other=True):.3f}; "
      f"untrained L{ul}H{uh} {control.mass(ul, uh):.3f}), chance {trained.chance.mean():.3f}")""",
    ),
    (
        "markdown",
        """**What the numbers mean.** From the colour word, head {COLOUR_HEAD} looks at the object
that has that colour: its largest weight lands there for {HITS} of the test words, with {MASS} of
its weight, against {OTHER} of its weight on the other object and {UNTRAINED} for the untrained
model's best head. The model learned this from captions alone.

**What they do not mean.** The **shape nouns are not grounded**: their rows hit the named shape
no more often than the other one (they look at both objects; the next word is the relation,
which needs both), and so does the untrained model, because the two shapes are the only patches
that differ from the background. Without the other-shape control, a noun's hit rate far above
chance would read as grounding; it is not. Attention is where a head looks, not why the model
says what it says; the vision tower has already mixed information between patches, so the patch
a head reads may carry more than its own pixels. Colour is the easiest thing to ground (matching
*red* to red pixels takes one layer). And this is one toy model on one synthetic task: it says
nothing about how a real vision-language model grounds words.""".format(
            COLOUR_HEAD=COLOUR_HEAD,
            HITS=f"{COLOUR['best_head_test']:.0%}",
            MASS=f"{COLOUR['best_head_mass_test']:.0%}",
            OTHER=f"{COLOUR['best_head_mass_other_shape_test']:.0%}",
            UNTRAINED=f"{UNTRAINED_COLOUR['best_head_mass_test']:.0%}",
        ),
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
