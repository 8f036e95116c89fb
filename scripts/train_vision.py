"""Train the small vision-language model behind notebooks/vision.ipynb, on a CPU, in minutes.

The data are synthetic scenes (attn_widget/vision_demo.py): two shapes (circle, square,
triangle) of different colours on a plain 64 x 64 background, captioned with a spatial relation,
"a red circle above a blue square" (the object named first is chosen at random). The model is
LLaVA-shaped: a CLIP vision tower (patches of 8 pixels: an 8 x 8 grid) whose patch features,
through LLaVA's two-layer projector, fill 64 ``<image>`` positions of a Llama language model,
then the caption. It is trained on captioning only: next-token loss on the caption (and its
``<eos>``) given the picture; nothing in the loss mentions where the shapes are.

After training it measures, on scenes it never saw (other seed streams), and prints:

- captioning: greedy captions from ``<image>`` alone, judged by meaning (both objects named
  right; the relation the true one, or its inverse when the model named the objects the other
  way round);
- grounding (``vision_grounding.grounding_by_query``, which reads attn_widget's capture, as the
  widget does): for each object of the caption, is the image patch that the row of its colour
  word (and of its shape noun) attends to most inside that shape (at least half of the patch's
  pixels in the shape's mask), and what share of the row's weight lands on the shape? The best
  single head is chosen on the validation stream, then scored on the test stream, with the mean
  over every head, chance, the scene's other shape and the untrained model as controls.

    .venv/bin/python scripts/train_vision.py            # writes attn_widget/vision_model/ (about 11 min)
    .venv/bin/python scripts/train_vision.py --steps 200 --out /tmp/v   # a quick smoke run
    .venv/bin/python scripts/train_vision.py --remeasure   # measure the shipped weights again (about 75 s)

Deterministic for a given seed, torch version and thread count (it sets 2 threads).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attn_widget.vision_demo import (  # noqa: E402
    COLOURS,
    IMAGE_TOKEN,
    PATCH,
    QUERIES,
    RELATIONS,
    SHAPES,
    SIZE,
    TEST_SEED,
    TRAIN_SEED,
    VALIDATION_SEED,
    Scene,
    scene_stream,
    scenes,
    vocabulary,
)
from attn_widget.vision_grounding import INSIDE, Grounding, grounding_by_query  # noqa: E402

OUT = ROOT / "attn_widget" / "vision_model"
THREADS = 2


def build_tokenizer(vocab: list[str]) -> Any:
    """Word-level: one token per caption word; ``<bos>`` put first by the tokenizer itself (a
    place for heads to rest that is not a patch), ``<image>`` a special token the processor
    repeats once per patch."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    ids = {w: i for i, w in enumerate(vocab)}
    core = Tokenizer(WordLevel(ids, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    core.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", ids["<bos>"])])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]}, replace_extra_special_tokens=False)
    return tokenizer


def build_processor(tokenizer: Any) -> Any:
    """LLaVA's own processor classes, built with arguments: CLIP's normalisation, the picture
    resized (shortest edge) and center-cropped to SIZE, which leaves a SIZE x SIZE scene as it is."""
    from transformers import LlavaImageProcessorPil, LlavaProcessor

    images = LlavaImageProcessorPil(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})
    return LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",  # CLS dropped: one text position per patch
        num_additional_image_tokens=1,
    )


def build_model(tokenizer: Any, layers: int, heads: int, width: int, vision_layers: int, vision_width: int) -> Any:
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    config = LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            image_size=SIZE,
            patch_size=PATCH,
            hidden_size=vision_width,
            num_hidden_layers=vision_layers,
            num_attention_heads=4,
            intermediate_size=2 * vision_width,
        ),
        text_config=dict(
            model_type="llama",
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            intermediate_size=2 * width,
            vocab_size=len(tokenizer),
            max_position_embeddings=128,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=(SIZE // PATCH) ** 2,
        vision_feature_layer=-1,  # the tower's last layer (LLaVA's default, -2, would leave it unused)
        vision_feature_select_strategy="default",
        tie_word_embeddings=True,
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def batch(processor: Any, shown: list[Scene]) -> dict[str, Any]:
    """Inputs and labels: the loss falls on the caption's words and its ``<eos>`` only."""
    tokenizer = processor.tokenizer
    enc = processor(
        text=[f"{s.prompt} <eos>" for s in shown],
        images=[s.image for s in shown],
        padding=True,
        return_tensors="pt",
    )
    ids = enc["input_ids"]
    skip = (enc["attention_mask"] == 0) | (ids == tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)) | (ids == tokenizer.bos_token_id)
    enc["labels"] = ids.masked_fill(skip, -100)
    return dict(enc)


def parse(caption: str) -> tuple[tuple[str, str], str, tuple[str, str]] | None:
    """(colour, shape), relation, (colour, shape) of a caption of the training form, else None."""
    words = caption.split()
    if len(words) < 7 or words[0] != "a" or words[-3] != "a":
        return None
    relation = " ".join(words[3:-3])
    first, second = (words[1], words[2]), (words[-2], words[-1])
    if relation not in RELATIONS or any(c not in COLOURS or s not in SHAPES for c, s in (first, second)):
        return None
    return first, relation, second


INVERSE = {"above": "below", "below": "above", "to the left of": "to the right of", "to the right of": "to the left of"}


def caption_accuracy(model: Any, processor: Any, shown: list[Scene]) -> dict[str, float]:
    """Greedy captions from the picture alone, judged by meaning: the order of the two objects
    is the model's choice, and the relation must be the true caption's (or its inverse, for the
    other order)."""
    import torch

    correct = objects = 0
    for scene in shown:
        enc = processor(text=IMAGE_TOKEN, images=scene.image, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=12, do_sample=False)
        said = parse(processor.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
        truth = parse(scene.caption)
        assert truth is not None
        if said is None or {said[0], said[2]} != {truth[0], truth[2]}:
            continue
        objects += 1
        correct += said[1] == (truth[1] if said[0] == truth[0] else INVERSE[truth[1]])
    n = len(shown)
    return {"caption_correct": correct / n, "objects_named": objects / n}


def grounding_record(validation: Grounding, test: Grounding, first: int) -> dict[str, Any]:
    """The numbers training.json keeps for one choice of query row: the head chosen on the
    validation stream, its hit rate there and on the test stream, the mean over heads, the
    attention mass on the named shape's patches (and the other shape's, and the whole picture's),
    chance, and the same on the test stream's first ``first`` scenes (what the tests recompute)."""
    layer, head = validation.best_head()
    words = 2 * first
    first_scenes = Grounding(**{f: getattr(test, f)[:words] for f in Grounding.__dataclass_fields__})
    return {
        "best_head": [layer, head],
        "best_head_validation": round(validation.head_rate(layer, head), 4),
        "best_head_test": round(test.head_rate(layer, head), 4),
        "best_head_other_shape_test": round(float(test.head_other[:, layer, head].mean()), 4),
        "mean_over_heads_test": round(float(test.mean_hits.mean()), 4),
        "mean_over_heads_other_shape_test": round(float(test.mean_other.mean()), 4),
        "layer_means_test": [round(float(v), 4) for v in test.layer_hits.mean(axis=0)],
        "all_heads_test": [[round(float(v), 4) for v in row] for row in test.head_hits.mean(axis=0)],
        "chance_patches_test": round(float(test.chance.mean()), 4),
        "chance_area_test": round(float(test.area.mean()), 4),
        "best_head_mass_test": round(test.mass(layer, head), 4),
        "best_head_mass_other_shape_test": round(test.mass(layer, head, other=True), 4),
        "best_head_picture_mass_test": round(float(test.picture_mass[:, layer, head].mean()), 4),
        "mean_over_heads_mass_test": round(test.mass(), 4),
        "mean_over_heads_mass_other_shape_test": round(test.mass(other=True), 4),
        "mean_over_heads_picture_mass_test": round(float(test.picture_mass.mean()), 4),
        f"first_{first}_test_scenes": {
            "best_head": round(first_scenes.head_rate(layer, head), 4),
            "mean_over_heads": round(float(first_scenes.mean_hits.mean()), 4),
            "best_head_mass": round(first_scenes.mass(layer, head), 4),
            "best_head_mass_other_shape": round(first_scenes.mass(layer, head, other=True), 4),
        },
    }


def measure(model: Any, untrained: Any, processor: Any, validation_scenes: int, test_scenes: int) -> dict[str, Any]:
    """Everything training.json records about the trained model and its untrained control, on
    scenes neither saw (printed as it goes)."""
    test = scenes(test_scenes, TEST_SEED)
    validation = scenes(validation_scenes, VALIDATION_SEED)
    captions = caption_accuracy(model, processor, test)
    print(f"captioning on {len(test)} test scenes: {captions}", flush=True)
    first = min(20, len(test))
    results: dict[str, dict[str, Any]] = {"trained": {}, "untrained": {}}
    for name, measured in (("trained", model), ("untrained", untrained)):
        on_validation = grounding_by_query(measured, processor, validation)
        on_test = grounding_by_query(measured, processor, test)
        for query in QUERIES:
            record = results[name][query] = grounding_record(on_validation[query], on_test[query], first)
            layer, head = record["best_head"]
            print(
                f"grounding of the {name} model, query = the {query} word ({2 * len(test)} words of {len(test)} test "
                f"scenes): best head L{layer}H{head} (chosen on validation, {record['best_head_validation']:.3f} there) "
                f"{record['best_head_test']:.3f} (other shape {record['best_head_other_shape_test']:.3f}), weight on the "
                f"shape {record['best_head_mass_test']:.3f} (other shape {record['best_head_mass_other_shape_test']:.3f}); "
                f"mean over all heads {record['mean_over_heads_test']:.3f} "
                f"(other shape {record['mean_over_heads_other_shape_test']:.3f}), weight on the shape "
                f"{record['mean_over_heads_mass_test']:.3f} (other shape {record['mean_over_heads_mass_other_shape_test']:.3f}); "
                f"layer means {record['layer_means_test']}; chance {record['chance_patches_test']:.3f} "
                f"(of patches), {record['chance_area_test']:.3f} (of area)",
                flush=True,
            )
    return {
        "captioning_test": {"scenes": len(test), **{k: round(v, 4) for k, v in captions.items()}},
        "grounding": {
            "rule": (
                f"a shape word's row (kind 'self') is grounded when its largest weight among the image's "
                f"patches falls on a patch with at least {INSIDE:.0%} of its pixels in the shape's mask; "
                f"its mass is the share of the row's weight on those patches"
            ),
            "validation_scenes": len(validation),
            "test_scenes": len(test),
            "by_query": results["trained"],
            "untrained_control": {
                "what": "the same measurement on the model as initialised (same seed), before any training step",
                "by_query": {q: {k: v for k, v in r.items() if k != "all_heads_test"} for q, r in results["untrained"].items()},
            },
        },
    }


def changed(before: Any, after: Any, path: str = "") -> list[str]:
    """The recorded numbers that a new measurement does not reproduce (keys it adds are not changes)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [line for k in before for line in changed(before[k], after.get(k), f"{path}.{k}")]
    if isinstance(before, str):
        return []  # a description, not a measurement
    return [] if before == after else [f"{path}: {before} -> {after}"]


def remeasure(out: pathlib.Path) -> None:
    """Measure the weights in ``out`` again (and the untrained control, rebuilt from the recorded
    seed) without training, say which recorded numbers it reproduces, and rewrite training.json's
    measurement (the training record is kept)."""
    import torch
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    recorded = json.loads((out / "training.json").read_text())
    torch.set_num_threads(THREADS)
    torch.manual_seed(recorded["seed"])  # as main() does before it builds the model it trains
    tokenizer = build_tokenizer(vocabulary())
    build_processor(tokenizer)
    shape = ("layers", "heads", "width", "vision_layers", "vision_width")
    untrained = build_model(tokenizer, *(recorded[k] for k in shape)).eval()
    model = LlavaForConditionalGeneration.from_pretrained(out).eval()
    processor = AutoProcessor.from_pretrained(out)
    started = time.time()
    grounding = recorded["grounding"]
    measured = measure(model, untrained, processor, grounding["validation_scenes"], grounding["test_scenes"])
    differences = changed({k: recorded[k] for k in measured}, measured)
    print("\n".join(["not reproduced:", *differences]) if differences else "every recorded number reproduced")
    (out / "training.json").write_text(json.dumps({**recorded, **measured}, indent=2) + "\n")
    print(f"measured in {time.time() - started:.0f} s; rewrote the measurement in {out / 'training.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--vision-layers", type=int, default=2)
    parser.add_argument("--vision-width", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-scenes", type=int, default=200)
    parser.add_argument("--test-scenes", type=int, default=200)
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    parser.add_argument(
        "--remeasure", action="store_true", help="measure the weights in --out again, without training (about 75 s)"
    )
    args = parser.parse_args()
    if args.remeasure:
        remeasure(args.out)
        return

    import copy

    import numpy as np
    import torch
    import transformers

    torch.set_num_threads(THREADS)
    torch.manual_seed(args.seed)
    tokenizer = build_tokenizer(vocabulary())
    processor = build_processor(tokenizer)
    model = build_model(tokenizer, args.layers, args.heads, args.width, args.vision_layers, args.vision_width)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"LLaVA (CLIP tower + Llama): {parameters:,} parameters, vocabulary {len(tokenizer)}", flush=True)
    untrained = copy.deepcopy(model).eval()  # the control: the same measurement before any training
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    stream = scene_stream(TRAIN_SEED + 1000 * args.seed)

    start = time.time()
    model.train()
    for step in range(1, args.steps + 1):
        b = batch(processor, [next(stream) for _ in range(args.batch)])
        labels = b.pop("labels")
        logits = model(**b).logits[:, :-1]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
        )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == args.steps:
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.time() - start:6.1f} s", flush=True)
    seconds = time.time() - start
    model.eval()

    measuring = time.time()
    measured = measure(model, untrained, processor, args.validation_scenes, args.test_scenes)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)
    nbytes = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    (args.out / "training.json").write_text(
        json.dumps(
            {
                "script": "scripts/train_vision.py",
                "family": "llava (clip_vision_model tower + llama language model)",
                "parameters": parameters,
                "steps": args.steps,
                "batch": args.batch,
                "lr": args.lr,
                "layers": args.layers,
                "heads": args.heads,
                "width": args.width,
                "vision_layers": args.vision_layers,
                "vision_width": args.vision_width,
                "seed": args.seed,
                "threads": THREADS,
                "seconds": round(seconds, 1),
                "measure_seconds": round(time.time() - measuring, 1),
                "final_loss": round(loss.item(), 4),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "numpy": np.__version__,
                "seeds": {"train": TRAIN_SEED + 1000 * args.seed, "validation": VALIDATION_SEED, "test": TEST_SEED},
                **measured,
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"wrote {args.out} ({nbytes / 1e6:.2f} MB before training.json); training took {seconds:.0f} s, "
        f"measuring {time.time() - measuring:.0f} s"
    )


if __name__ == "__main__":
    main()
