"""Quality: does MLM+NSP pretraining help? Sentence-level language ID with a small BERT-style encoder.

One run: split ../shared/data/langid/lingua_sentences_shared.tsv.gz per language into train / valid / test
(a held-out split, seeded), train a WordPiece tokenizer and pretrain an encoder (MLM + NSP) on the train
sentences' text (labels unused; sentences of one language grouped into documents), then fine-tune for
language ID (a) from the pretrained weights and (b) from scratch, same model, steps and data. Prints
test accuracy and macro F1 of both; the anchor is (b).

    python benchmarks/encoder_langid.py [--quick] [--data ../shared/data] [--device cuda]

Measured 2026-11-23 on the 2-core CPU (defaults: 4 x 128 pre-norm encoder, 3000 MLM+NSP steps of
32 x 64 (val loss 6.22, 582 s), 2 fine-tuning epochs = 1126 steps): 75 languages, 2,250 test sentences;
pretrained acc 0.700 / macro F1 0.665, scratch acc 0.281 / macro F1 0.198
(RESULT langid_macro_f1_gain_from_pretraining 0.4668). With only 500 pretraining steps (val loss 7.0)
and 1 epoch the two were level (0.259 / 0.260): the encoder must learn something before it helps.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def split_sentences(path: Path, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    by_lang = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            by_lang[row["lang"]].append(row["text"])
    rng = np.random.default_rng(seed)
    splits = {"train": [], "valid": [], "test": []}
    for lang, texts in sorted(by_lang.items()):
        order = rng.permutation(len(texts))
        n_test = n_valid = len(texts) // 10
        for i, j in enumerate(order):
            split = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
            splits[split].append((lang, texts[j]))
    return splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--quick", action="store_true", help="tiny model and few steps (< 1 minute on CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="")
    ap.add_argument("--pretrain-steps", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs")
    ap.add_argument("--norm-position", default="pre", choices=["pre", "post"],
                    help="pre-norm trains stably in few steps; post is BERT's original")
    args = ap.parse_args()

    import torch

    from roots.model.build import build_model
    from roots.model.config import ModelConfig
    from roots.model.io import save_model
    from roots.tokenizer.shards import TokenizeConfig, tokenize
    from roots.tokenizer.tokenizer import Tokenizer
    from roots.train.config import OptimConfig, ScheduleConfig, TrainConfig
    from roots.train.finetune.finetune import FinetuneConfig, FinetuneRun
    from roots.train.trainer import Trainer
    from roots.workflows.finetune import evaluate

    torch.set_num_threads(1 if args.quick else torch.get_num_threads())
    work = Path(args.out or tempfile.mkdtemp(prefix="encoder_langid_"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    splits = split_sentences(Path(args.data) / "langid" / "lingua_sentences_shared.tsv.gz")
    if args.quick:  # a few languages, fewer sentences
        keep = sorted({lang for lang, _ in splits["train"]})[:8]
        splits = {k: [x for x in v if x[0] in keep] for k, v in splits.items()}
    for name, rows in splits.items():
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t, "label": lang}) + "\n" for lang, t in rows)
    # pretraining corpus: the train sentences without labels, 8 same-language sentences per document
    docs = defaultdict(list)
    for lang, text in splits["train"]:
        docs[lang].append(text)
    with open(work / "corpus.jsonl", "w", encoding="utf-8") as f:
        for lang, texts in docs.items():
            for i in range(0, len(texts), 8):
                f.write(json.dumps({"id": f"{lang}-{i}", "text": " ".join(texts[i : i + 8])}) + "\n")
    vocab = 2000 if args.quick else 4000
    Tokenizer.train(str(work / "corpus.jsonl"), "wordpiece", vocab).save(work / "tok")
    tokenize(TokenizeConfig(tokenizer=str(work / "tok"), input=str(work / "corpus.jsonl"),
                            output=str(work / "shards"), val_fraction=0.05))

    # sized for a few CPU minutes; a GPU affords bert-mini (4 x 256) and thousands of steps
    size = dict(n_layer=2, n_head=2, n_embd=64, block_size=64) if args.quick else \
        dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
    model = ModelConfig.from_preset("bert-mini", vocab_size=0, dropout=0.1, norm_position=args.norm_position,
                                    **size)
    t0 = time.time()
    pre_steps = 150 if args.quick else args.pretrain_steps
    trainer = Trainer(TrainConfig(
        data=str(work / "shards"), out_dir=str(work / "pretrain"), model=model,
        batch_size=16 if args.quick else 32, max_steps=pre_steps, eval_every=pre_steps, eval_batches=4,
        device=args.device, tensorboard=False, optim=OptimConfig(lr=1e-3, weight_decay=0.01),
        schedule=ScheduleConfig(warmup_steps=pre_steps // 10, name="linear", min_lr_ratio=0.0)))
    pre = trainer.fit()
    pretrain_s = time.time() - t0
    # the same architecture, randomly initialized, as a "pretrained" folder with the same tokenizer
    scratch = work / "scratch"
    torch.manual_seed(0)
    save_model(build_model(trainer.config.model), scratch / "checkpoints" / "last")
    shutil.copyfile(work / "pretrain" / "tokenizer.json", scratch / "tokenizer.json")

    results = {}
    for name, base in (("pretrained", work / "pretrain"), ("scratch", scratch)):
        run = FinetuneRun(FinetuneConfig(
            model=str(base), train=str(work / "train.jsonl"), valid=str(work / "test.jsonl"),
            out_dir=str(work / f"ft_{name}"), method="full", epochs=2 if args.quick else args.epochs, batch_size=32,
            device=args.device, optim=OptimConfig(lr=5e-4, weight_decay=0.01),
            schedule=ScheduleConfig(name="linear", warmup_steps=20, min_lr_ratio=0.0)))
        t0 = time.time()
        run.fit()
        metrics = evaluate(run)
        run.save(metrics)
        results[name] = metrics
        print(f"{name:10s} test accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro']['f1']:.4f}  "
              f"({len(run.train_set)} train / {metrics['n']} test sentences, {len(run.encoder.labels)} languages, "
              f"{run.step} steps, {time.time() - t0:.0f} s)")
    print(f"pretraining: {pre['step']} steps MLM+NSP, val loss {pre['best_val_loss']:.3f}, {pretrain_s:.0f} s "
          f"on {trainer.device}")
    gain = results["pretrained"]["macro"]["f1"] - results["scratch"]["macro"]["f1"]
    print(f"RESULT langid_macro_f1_gain_from_pretraining {gain:.4f} goal > 0")


if __name__ == "__main__":
    main()
