"""Quality: a small German->English translation fine-tune of a BART-style encoder-decoder, BLEU by sacrebleu.

The WMT22 general test material in ../shared/data/eval/mt/wmt22 is the only parallel text here, so it is
split by segment: the last --test segments of de-en are held out (source + reference A); training pairs
are every other de-en segment with its two references and the systems' outputs as targets, plus the
en-de segments reversed (German reference -> English source). Span-corruption pretraining on the German
and English text of the training pairs first (--pretrain-steps), then `roots finetune --task seq2seq`.
The anchor is copying the source (BLEU of the untranslated German), which any working model must beat.

    python benchmarks/seq2seq_mt.py [--quick] [--data ../shared/data] [--device cuda]

Measured 2026-11-23 on the shared 2-core CPU (defaults: 2 + 2 layers of 128, 100 span-corruption steps,
800 fine-tuning steps of 32 pairs, beam 4): BLEU 0.49, chrF 12.1 on 100 held-out segments
(nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0); copying the source scores BLEU 3.52.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def parallel(mt: Path, test: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    de_src = lines(mt / "sources" / "generaltest2022.de-en.src.de.gz")
    en_refs = [lines(p) for p in sorted((mt / "references").glob("generaltest2022.de-en.ref.*.en.gz"))]
    en_sys = [lines(p) for p in sorted((mt / "system-outputs").glob("generaltest2022.de-en.hyp.*.en.gz"))]
    cut = len(de_src) - test
    train = [(de_src[i], t[i]) for t in en_refs + en_sys for i in range(cut)]
    heldout = [(de_src[i], en_refs[0][i]) for i in range(cut, len(de_src))]
    # the other direction's test set, reversed: German references -> English sources
    en_src = lines(mt / "sources" / "generaltest2022.en-de.src.en.gz")
    for ref in sorted((mt / "references").glob("generaltest2022.en-de.ref.*.de.gz")):
        train += list(zip(lines(ref), en_src, strict=True))
    train = [(s, t) for s, t in train if s.strip() and t.strip()]
    return train, heldout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--quick", action="store_true", help="tiny model and few steps (< 1 minute on CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--test", type=int, default=100, help="held-out de-en segments")
    ap.add_argument("--pretrain-steps", type=int, default=-1)
    ap.add_argument("--finetune-steps", type=int, default=-1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    import sacrebleu
    import torch

    from roots.model.config import ModelConfig
    from roots.tokenizer.shards import TokenizeConfig, tokenize
    from roots.tokenizer.tokenizer import Tokenizer
    from roots.train.config import OptimConfig, ScheduleConfig, TrainConfig
    from roots.train.finetune.finetune import FinetuneConfig, FinetuneRun
    from roots.train.trainer import Trainer
    from roots.workflows.finetune import evaluate

    if args.quick:
        torch.set_num_threads(1)
    work = Path(args.out or tempfile.mkdtemp(prefix="seq2seq_mt_"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    train, heldout = parallel(Path(args.data) / "eval" / "mt" / "wmt22", 20 if args.quick else args.test)
    if args.quick:
        train = train[:2000]
    with open(work / "train.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"source": s, "target": t}) + "\n" for s, t in train)
    with open(work / "test.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"source": s, "target": t}) + "\n" for s, t in heldout)
    # monolingual text of the training side for tokenizer + span-corruption pretraining (test text excluded)
    mono = sorted({s for s, _ in train} | {t for _, t in train})
    with open(work / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(mono))
    Tokenizer.train(str(work / "corpus.jsonl"), "unigram", 2000 if args.quick else 4000,
                    sentinels=100).save(work / "tok")
    tokenize(TokenizeConfig(tokenizer=str(work / "tok"), input=str(work / "corpus.jsonl"),
                            output=str(work / "shards"), val_fraction=0.02))

    # sized for minutes on a CPU; a GPU affords 6 + 6 layers of 512 and tens of thousands of steps
    size = dict(n_layer=2, n_head=2, n_embd=64, block_size=128) if args.quick else \
        dict(n_layer=2, n_head=4, n_embd=128, block_size=256)
    pre_steps = args.pretrain_steps if args.pretrain_steps >= 0 else (30 if args.quick else 100)
    t0 = time.time()
    trainer = Trainer(TrainConfig(
        data=str(work / "shards"), out_dir=str(work / "pretrain"),
        model=ModelConfig.from_preset("bart-mini", vocab_size=0, dropout=0.1, norm_position="pre", **size),
        block_size=64 if args.quick else 128, batch_size=16 if args.quick else 32, max_steps=max(1, pre_steps),
        eval_every=max(1, pre_steps), eval_batches=4, device=args.device, tensorboard=False,
        optim=OptimConfig(lr=1e-3, weight_decay=0.01),
        schedule=ScheduleConfig(name="linear", warmup_steps=max(1, pre_steps // 10), min_lr_ratio=0.0)))
    pre = trainer.fit()
    pretrain_s = time.time() - t0

    ft_steps = args.finetune_steps if args.finetune_steps >= 0 else (40 if args.quick else 800)
    run = FinetuneRun(FinetuneConfig(
        model=str(work / "pretrain"), train=str(work / "train.jsonl"), valid=str(work / "test.jsonl"),
        out_dir=str(work / "ft"), task="seq2seq", method="full", max_steps=ft_steps,
        batch_size=16 if args.quick else 32, max_length=96, device=args.device,
        num_beams=1 if args.quick else 4, max_new_tokens=32 if args.quick else 96,
        optim=OptimConfig(lr=1e-3, weight_decay=0.01),
        schedule=ScheduleConfig(name="linear", warmup_steps=max(1, ft_steps // 20), min_lr_ratio=0.0)))
    t0 = time.time()
    run.fit()
    metrics = evaluate(run)
    run.save(metrics)
    bleu = metrics["bleu"]
    copy = sacrebleu.corpus_bleu([s for s, _ in heldout], [[t for _, t in heldout]])
    print(f"pretraining: {pre['step']} steps span corruption, val loss {pre['best_val_loss']:.3f}, "
          f"{pretrain_s:.0f} s on {trainer.device}")
    print(f"fine-tuning: {run.step} steps on {len(run.train_set)} pairs, val loss {metrics['val_loss']:.3f}, "
          f"{time.time() - t0:.0f} s")
    print(f"roots BLEU {bleu['score']:.2f}  chrF {metrics['chrf']['score']:.2f}  on {metrics['n']} held-out "
          f"de-en segments  {bleu['signature']}")
    print(f"anchor (copy the source) BLEU {copy.score:.2f}")
    print(f"RESULT bleu_de_en {bleu['score']:.2f} goal > {copy.score:.2f}")


if __name__ == "__main__":
    main()
