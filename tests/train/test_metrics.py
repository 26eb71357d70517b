"""Throughput and MFU come from the training steps alone and MFU never exceeds 100%."""

from __future__ import annotations

import pytest
import torch

from roots.train import metrics as metrics_mod
from roots.train.metrics import StepMeter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(metrics_mod.time, "perf_counter", fake)
    monkeypatch.setattr(metrics_mod, "peak_flops", lambda device, dtype: 100.0)
    return fake


def test_paused_time_is_not_counted(clock):
    meter = StepMeter(torch.device("cpu"), torch.float32)
    meter.start()
    clock.now += 2.0  # two training steps of 1 s, 50 FLOP/s each
    meter.add(torch.tensor(3.0), tokens=10, flops=50.0)
    meter.add(torch.tensor(2.5), tokens=10, flops=50.0)
    meter.pause()
    clock.now += 60.0  # evaluation and a checkpoint
    meter.start()
    loss, tok_s, mfu = meter.read()
    assert loss == 2.5 and tok_s == pytest.approx(10.0) and mfu == pytest.approx(0.5)


def test_mfu_never_exceeds_one(clock):
    """A peak measured low (a loaded CPU) is raised by a faster step rather than reporting > 100%."""
    meter = StepMeter(torch.device("cpu"), torch.float32)
    meter.start()
    clock.now += 1.0
    meter.add(torch.tensor(1.0), tokens=1, flops=245.0)  # 2.45x the measured "peak"
    assert meter.read()[2] == pytest.approx(1.0)
    clock.now += 1.0
    meter.add(torch.tensor(1.0), tokens=1, flops=122.5)
    assert meter.read()[2] == pytest.approx(0.5)
