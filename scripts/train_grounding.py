"""Train the small GPT-2-style model behind notebooks/grounding.ipynb, on a CPU, in minutes.

The data imitate the brief's figure (Wu, Ma, Luo et al., arXiv:2510.13796): child-directed
sequences with an environment part that names an object and a language part that must predict it,

    <CHI> painted a picture of a horse <CHI> my favorite animal is the horse

Word-level tokens. The environment part names one object (sometimes two, of different
categories); the language part asks for a category ("animal", "toy", "food"), so predicting the
final word needs the environment's noun of that category: the ground. Anything else in the
sequence is predictable only as language statistics. The model is GPT-2 shaped like the brief's
grid (12 layers x 12 heads), narrow (width 96) so it trains in a few minutes on 2 cores.

    .venv/bin/python scripts/train_grounding.py            # writes attn_widget/grounding_model/
    .venv/bin/python scripts/train_grounding.py --steps 200 --out /tmp/g   # a quick smoke run

Deterministic for a given seed and torch version. Prints held-out accuracy on the final word.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attn_widget.grounding import CATEGORIES, ENVIRONMENTS, LANGUAGE, MARKER, sentence  # noqa: E402

OUT = ROOT / "attn_widget" / "grounding_model"


def example(rng: random.Random) -> list[str]:
    """One sequence: ENV (one object, or two of different categories) then LAN asking for one."""
    category = rng.choice(sorted(CATEGORIES))
    noun = rng.choice(CATEGORIES[category])
    nouns = [noun]
    if rng.random() < 0.4:  # a distractor of another category: the category word must be used
        other = rng.choice(sorted(set(CATEGORIES) - {category}))
        nouns.append(rng.choice(CATEGORIES[other]))
        rng.shuffle(nouns)
    return sentence(rng.choice(ENVIRONMENTS), nouns, rng.choice(LANGUAGE), category, answer=noun)


def vocabulary() -> list[str]:
    words = {MARKER, "and"}
    for template in ENVIRONMENTS + LANGUAGE:
        words.update(w for w in template.split() if not w.startswith("{"))
    for category, nouns in CATEGORIES.items():
        words.add(category)
        words.update(nouns)
    return ["<pad>", "<unk>", "<eos>"] + sorted(words)


def build_tokenizer(vocab: list[str]):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    core.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args()

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    vocab = vocabulary()
    tokenizer = build_tokenizer(vocab)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=32,
        n_embd=96,
        n_layer=12,
        n_head=12,
        n_inner=384,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.steps, pct_start=0.1)

    def batch(n: int, source: random.Random) -> dict[str, torch.Tensor]:
        texts = [" ".join(example(source)) for _ in range(n)]
        enc = tokenizer(texts, return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}

    def answer_accuracy(n: int = 512) -> float:
        """How often the final word (the grounded noun) is the model's top prediction."""
        held_out = random.Random(args.seed + 1)
        model.eval()
        hits = 0
        with torch.no_grad():
            for _ in range(n):
                words = example(held_out)
                ids = tokenizer(" ".join(words[:-1]), return_tensors="pt")["input_ids"]
                top = int(model(ids).logits[0, -1].argmax())
                hits += tokenizer.convert_ids_to_tokens([top])[0] == words[-1]
        model.train()
        return hits / n

    start = time.time()
    model.train()
    for step in range(1, args.steps + 1):
        b = batch(args.batch, rng)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
        # Label smoothing keeps the model from saturating (p -> 1), where every loss gradient, and
        # so every saliency, would vanish as 1 - p.
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            b["labels"][:, 1:].reshape(-1),
            ignore_index=-100,
            label_smoothing=args.label_smoothing,
        )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == args.steps:
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.time() - start:6.1f} s", flush=True)
    accuracy = answer_accuracy()
    print(f"held-out accuracy on the grounded final word: {accuracy:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    (args.out / "training.json").write_text(
        json.dumps(
            {
                "script": "scripts/train_grounding.py",
                "steps": args.steps,
                "batch": args.batch,
                "seed": args.seed,
                "label_smoothing": args.label_smoothing,
                "seconds": round(time.time() - start, 1),
                "final_loss": round(loss.item(), 4),
                "held_out_answer_accuracy": accuracy,
                "torch": torch.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
