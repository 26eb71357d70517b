"""`roots finetune`: fine-tune a pretrained model on JSONL task data with the Trainer, evaluate it with
roots.eval's metrics (accuracy/P/R/F1, or BLEU/chrF), and write the adapter, its metrics and a run record.

The metrics live in eval, which sits above train; this command passes them to the Trainer as functions.
"""

from __future__ import annotations

import time
from typing import Any

from roots.common.records import write_run_record
from roots.train.finetune.finetune import FinetuneConfig, FinetuneRun

__all__ = ["FinetuneConfig", "evaluate", "finetune", "periodic_metrics"]


def periodic_metrics(config: FinetuneConfig) -> dict[str, Any]:
    """The metrics the Trainer logs at each evaluation: accuracy/P/R/F1 for classification (cheap); seq2seq's
    BLEU needs generation, so it is computed once, at the end (`evaluate`)."""
    if config.task != "classification":
        return {}
    return {"valid": lambda run: _classification(run, run.valid_set)}


def _classification(run: FinetuneRun, data: list) -> dict[str, Any]:
    from roots.eval.classification import classification_metrics

    if not data:
        return {}
    labels = run.encoder.labels
    return classification_metrics([labels[e.label] for e in data], run.predict_labels(data), labels)


def evaluate(run: FinetuneRun) -> dict[str, Any]:
    """Validation loss, plus accuracy/P/R/F1 (classification) or BLEU/chrF (seq2seq)."""
    cfg, data = run.config, run.valid_set
    if not data:
        return {"n": 0}
    metrics: dict[str, Any] = {"val_loss": run.trainer.evaluate(), "n": len(data)}
    if cfg.task == "classification":
        metrics.update(_classification(run, data))
    elif cfg.task == "seq2seq":
        from roots.eval.mt import mt_scores

        scored = data[: cfg.eval_limit or len(data)]
        hyps = run.translate(scored)
        (run.out / "valid.hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
        metrics.update(mt_scores(hyps, [[e.reference for e in scored]], ["bleu", "chrf"]))
    return metrics


def finetune(config: FinetuneConfig) -> int:
    """`roots finetune`: train (or resume), evaluate on the validation set, write the adapter and its metrics."""
    start = time.time()
    run = FinetuneRun(config, metrics=periodic_metrics(config))
    run.fit()
    if not run.trainer.dist.is_main:
        return 0
    metrics = evaluate(run)
    run.save(metrics)
    write_run_record(run.out, "finetune", config, seconds=round(time.time() - start, 1), skipped=dict(run.skipped),
                     train_examples=len(run.train_set), valid_examples=len(run.valid_set),
                     trainable_parameters=run.trainable, total_parameters=run.total)
    if config.task == "classification" and "accuracy" in metrics:
        score = f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro']['f1']:.4f}"
    elif "bleu" in metrics:
        score = f"BLEU {metrics['bleu']['score']:.2f} ({metrics['bleu']['signature']})"
    else:
        score = f"val loss {metrics.get('val_loss', float('nan')):.4f}"
    skipped = f"; skipped {dict(run.skipped)}" if run.skipped else ""
    print(f"roots finetune: {config.method} on {len(run.train_set)} {config.task} examples, {run.step} steps, "
          f"{run.trainable:,} of {run.total:,} parameters trained; {score}{skipped}; wrote {run.out}/")
    return 0
