from __future__ import annotations

import math

import pytest
import torch

from roots.model.gpt import TransformerModel
from roots.train.config import OptimConfig, ScheduleConfig
from roots.train.optim import build_optimizer, build_scheduler, lr_multiplier, param_groups


def _nanogpt_get_lr(it, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=2000):
    """nanoGPT train.py's get_lr, verbatim."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def test_cosine_matches_nanogpt():
    cfg = ScheduleConfig(name="cosine", warmup_steps=100, min_lr_ratio=0.1)
    for step in (0, 50, 99, 100, 101, 700, 1999, 2000, 2500):
        assert 1e-3 * lr_multiplier(step, cfg, 2000) == pytest.approx(_nanogpt_get_lr(step), rel=1e-12)


def test_linear_constant_wsd():
    lin = ScheduleConfig(name="linear", warmup_steps=0, min_lr_ratio=0.0)
    assert [lr_multiplier(s, lin, 10) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    assert lr_multiplier(500, ScheduleConfig(name="constant", warmup_steps=10), 1000) == 1.0
    wsd = ScheduleConfig(name="wsd", warmup_steps=10, decay_fraction=0.2, min_lr_ratio=0.0)
    assert lr_multiplier(799, wsd, 1000) == 1.0  # stable until the last 20%
    assert lr_multiplier(900, wsd, 1000) == pytest.approx(0.5)
    assert lr_multiplier(1000, wsd, 1000) == 0.0


def test_scheduler_sets_the_lr_of_each_step():
    model = TransformerModel.from_preset("debug")
    opt = build_optimizer(model, OptimConfig(lr=1e-3), "cpu")
    sched = build_scheduler(opt, ScheduleConfig(warmup_steps=100, min_lr_ratio=0.1), 2000)
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([_nanogpt_get_lr(i) for i in range(3)])


def test_weight_decay_groups():
    model = TransformerModel.from_preset("debug")
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() == 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize("name,cls", [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD),
                                      ("adagrad", torch.optim.Adagrad)])
def test_optimizers(name, cls):
    assert isinstance(build_optimizer(TransformerModel.from_preset("debug"), OptimConfig(name=name), "cpu"), cls)


def test_adamw_is_fused_on_cpu_where_torch_supports_it():
    model = TransformerModel.from_preset("debug", vocab_size=64)
    opt = build_optimizer(model, OptimConfig(), "cpu")
    try:
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], fused=True)
    except (RuntimeError, ValueError):
        assert not opt.defaults.get("fused")
    else:
        assert opt.defaults["fused"] is True
