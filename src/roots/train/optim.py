"""Optimizers with weight-decay groups, and learning-rate schedules as multipliers of the peak lr."""

from __future__ import annotations

import math

import torch

from roots.train.config import OptimConfig, ScheduleConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices (linear weights, embeddings); never decay norms and biases (1-d tensors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig, device_type: str) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.weight_decay)
    if cfg.name == "adamw":
        # the fused kernel does the whole update in one pass (CUDA, and CPU/MPS in recent torch: ~10% of a
        # small model's CPU step, benchmarks/train_throughput.py); foreach where it is not supported
        kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
        if device_type in ("cuda", "cpu", "mps"):
            try:
                return torch.optim.AdamW(groups, fused=True, **kwargs)
            except (RuntimeError, ValueError):
                pass
        return torch.optim.AdamW(groups, **kwargs)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.Adagrad(groups, lr=cfg.lr, eps=cfg.eps)


def lr_multiplier(step: int, cfg: ScheduleConfig, max_steps: int) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based): linear warmup, then the schedule."""
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    if cfg.name == "constant":
        return 1.0
    total = cfg.decay_steps or max_steps
    floor = cfg.min_lr_ratio
    if cfg.name == "wsd":  # warmup-stable-decay: flat, then a linear decay over the last fraction
        decay_start = total - int(cfg.decay_fraction * total)
        if step < decay_start:
            return 1.0
        progress = (step - decay_start) / max(1, total - decay_start)
    else:
        progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    progress = min(1.0, progress)
    if cfg.name == "linear" or cfg.name == "wsd":
        return 1.0 - (1.0 - floor) * progress
    return floor + 0.5 * (1.0 - floor) * (1.0 + math.cos(math.pi * progress))  # cosine


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig,
                    max_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, cfg, max_steps))
