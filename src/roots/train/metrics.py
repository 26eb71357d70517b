"""Training records: metrics.jsonl, TensorBoard events, loss.png, and the peak FLOP/s that MFU divides by."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from roots.common.io import atomic_write

# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets
_CUDA_PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12,
               "4090": 165e12, "3090": 71e12, "V100": 125e12, "T4": 65e12}


def peak_flops(device: torch.device, dtype: torch.dtype) -> float:
    """The device's peak: the data-sheet figure for known GPUs, else measured with a large matmul."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, flops in _CUDA_PEAKS.items():
            if key in name:
                return flops if dtype == torch.bfloat16 else flops / 2
    return measured_matmul_flops(device, dtype)


def measured_matmul_flops(device: torch.device, dtype: torch.dtype, n: int = 1024, reps: int = 8) -> float:
    """Best-of FLOP/s of an n x n matmul on this device: the practical peak of a CPU."""
    g = torch.Generator(device).manual_seed(0)  # its own generator: the training RNG stream stays untouched
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


class StepMeter:
    """Tokens/s and MFU of the training steps alone: the clock runs between start() and pause(), so
    evaluation and checkpoints are never counted, and the device is synced only when read.

    MFU divides achieved FLOP/s by the device's peak. On a CPU the peak is measured (a large matmul), and
    on a loaded machine that measurement can come out low; a step that runs faster proves the peak higher,
    so the peak is raised to it: MFU never exceeds 100%.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.peak = device, peak_flops(device, dtype)
        self._elapsed, self._t0, self.tokens, self.flops = 0.0, None, 0, 0.0
        self.loss: torch.Tensor | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self) -> None:
        self._sync()
        self._t0 = time.perf_counter()

    def pause(self) -> None:
        self._sync()
        if self._t0 is not None:
            self._elapsed += time.perf_counter() - self._t0
        self._t0 = None

    def add(self, loss: torch.Tensor, tokens: int, flops: float) -> None:
        self.loss, self.tokens, self.flops = loss, self.tokens + tokens, self.flops + flops

    def read(self) -> tuple[float, float, float]:
        """(the last step's loss, tokens/s, MFU) over the steps since the last read; restarts the count."""
        loss = float(self.loss) if self.loss is not None else math.nan  # syncs
        self.pause()
        seconds = max(self._elapsed, 1e-9)
        tok_s, achieved = self.tokens / seconds, self.flops / seconds
        self.peak = max(self.peak, achieved)
        mfu = achieved / self.peak if self.peak > 0 else 0.0
        self._elapsed, self.tokens, self.flops = 0.0, 0, 0.0
        self.start()
        return loss, tok_s, mfu


class MetricsLog:
    """Appends one JSON object per line to metrics.jsonl and mirrors scalars to TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int, tensorboard: bool) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.run_dir = run_dir
        self._truncate_after(resume_step)
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step + 1 if resume_step else None)

    def _truncate_after(self, step: int) -> None:
        """Drop lines logged after the checkpoint we resume from: they are about to be redone."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        with atomic_write(self.path) as f:
            f.writelines(line + "\n" for line in kept)

    def log(self, step: int, **values: Any) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_loss(run_dir: Path) -> Path:
    """loss.png: training and validation loss against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir / "metrics.jsonl")
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style in (("train_loss", "-"), ("val_loss", "o-")):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), style, label=key.replace("_", " "), markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    path = run_dir / "loss.png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
