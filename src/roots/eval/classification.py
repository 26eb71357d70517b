"""Classification metrics: accuracy, per-class and macro/micro precision, recall, F1, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from roots.common.errors import UserError
from roots.eval.report import write_report
from roots.eval.textfiles import read_lines


def classification_metrics(gold: list[str], pred: list[str], labels: list[str] | None = None) -> dict[str, Any]:
    """All metrics from one confusion matrix (rows = gold, columns = predicted).

    Macro averages weigh every class equally; micro averages pool all decisions (for single-label
    classification micro P = R = F1 = accuracy). A class never predicted has precision 0 (counted, not NaN).
    """
    if len(gold) != len(pred):
        raise UserError(f"{len(gold)} gold labels but {len(pred)} predictions")
    if not gold:
        raise UserError("no examples to score")
    labels = labels or sorted(set(gold) | set(pred))
    index = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, pred):
        cm[index[g], index[p]] += 1
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0).astype(float), cm.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=(precision + recall) > 0)
    present = actual > 0  # macro averages over classes that occur in the gold labels
    micro = tp.sum() / cm.sum()
    return {
        "accuracy": float(micro),
        "macro": {"precision": float(precision[present].mean()), "recall": float(recall[present].mean()),
                  "f1": float(f1[present].mean())},
        "micro": {"precision": float(micro), "recall": float(micro), "f1": float(micro)},
        "per_class": {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                              "f1": float(f1[i]), "support": int(actual[i])} for i, label in enumerate(labels)},
        "labels": labels,
        "confusion_matrix": cm.tolist(),
        "n": len(gold),
    }


def plot_confusion_matrix(metrics: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from roots.common.io import atomic_write

    cm, labels = np.array(metrics["confusion_matrix"]), metrics["labels"]
    size = max(4.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    if len(labels) <= 20:
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_title(f"accuracy {metrics['accuracy']:.3f}, macro F1 {metrics['macro']['f1']:.3f}")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path


@dataclass
class ClassificationEvalConfig:
    gold: str = field(metadata={"help": "gold labels, one per line (or JSONL with --gold-field)"})
    pred: str = field(metadata={"help": "predicted labels, one per line (or JSONL with --pred-field)"})
    gold_field: str | None = None
    pred_field: str | None = None
    output: str | None = field(default=None, metadata={"help": "folder for REPORT.* and confusion_matrix.png"})


def classification(config: ClassificationEvalConfig) -> dict[str, Any]:
    """`roots eval classification`."""
    metrics = classification_metrics(read_lines(config.gold, config.gold_field),
                                     read_lines(config.pred, config.pred_field))
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro']['f1']:.4f}  "
          f"macro-P {metrics['macro']['precision']:.4f}  macro-R {metrics['macro']['recall']:.4f}  "
          f"(n={metrics['n']}, {len(metrics['labels'])} classes)")
    if config.output:
        plot = plot_confusion_matrix(metrics, Path(config.output) / "confusion_matrix.png")
        summary = {k: metrics[k] for k in ("accuracy", "macro", "micro", "n")}
        write_report(config.output, "classification", summary, {"gold": config.gold, "pred": config.pred},
                     {"accuracy": "fraction", "macro": "fraction", "micro": "fraction", "n": "examples"},
                     extra_md=f"![confusion matrix]({plot.name})")
        print(f"wrote {config.output}/REPORT.json, REPORT.md, {plot.name}")
    return metrics
