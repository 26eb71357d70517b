"""PNG figures for reports: loss curves, attention maps, comparison bars (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from roots.common.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return path


def loss_curves(runs: dict[str, list[dict]], path: Path, title: str = "training loss") -> Path:
    """One line per run (train loss, and validation loss as markers) against tokens seen."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, rows) in enumerate(runs.items()):
        color = f"C{i}"
        train = [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r]
        val = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
        if train:
            ax.plot(*zip(*train), color=color, alpha=0.8, label=f"{name} train")
        if val:
            ax.plot(*zip(*val), "o--", color=color, label=f"{name} val")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def attention_grid(maps: np.ndarray, tokens: list[str], path: Path, layers: list[int] | None = None) -> Path:
    """Heatmaps of attention (n_layer, n_head, T, T): rows are layers, columns heads."""
    plt = _plt()
    layers = layers if layers is not None else list(range(maps.shape[0]))
    n_head = maps.shape[1]
    T = len(tokens)
    size = max(1.8, min(4.0, 0.18 * T))
    fig, axes = plt.subplots(len(layers), n_head, figsize=(size * n_head, size * len(layers)), squeeze=False)
    labels = [t if len(t) <= 8 else t[:7] + "…" for t in tokens]
    for r, layer in enumerate(layers):
        for h in range(n_head):
            ax = axes[r][h]
            ax.imshow(maps[layer, h], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer} head {h}", fontsize=8)
            if T <= 24:
                ax.set_xticks(range(T), labels, rotation=90, fontsize=6)
                ax.set_yticks(range(T), labels, fontsize=6)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle("attention: row = query token, column = key token it attends to", fontsize=9)
    return _save(fig, path)


def comparison_bars(names: list[str], values: list[float], path: Path, ylabel: str, title: str,
                    intervals: list[tuple[float | None, float | None]] | None = None) -> Path:
    """Bars per name; `intervals` (low, high) per bar, None where undefined, are drawn as error bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names)), 3.5))
    yerr = None
    if intervals and all(lo is not None and hi is not None for lo, hi in intervals):
        yerr = [[v - lo for v, (lo, _) in zip(values, intervals)], [hi - v for v, (_, hi) in zip(values, intervals)]]
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))], yerr=yerr, capsize=4)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
