"""The training config: model, optimizer, schedule, data and loop settings in one typed dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roots.model.config import ModelConfig


@dataclass
class OptimConfig:
    name: Literal["adamw", "sgd", "adagrad"] = "adamw"
    lr: float = field(default=6e-4, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=0.1, metadata={"help": "applied to matrices only, not norms/biases"})
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    grad_clip: float = field(default=1.0, metadata={"help": "max global gradient norm; 0 disables"})


@dataclass
class ScheduleConfig:
    name: Literal["cosine", "linear", "constant", "wsd"] = "cosine"
    warmup_steps: int = 100
    min_lr_ratio: float = field(default=0.1, metadata={"help": "final lr as a fraction of the peak"})
    decay_steps: int = field(default=0, metadata={"help": "steps to reach the final lr; 0 means max_steps"})
    decay_fraction: float = field(default=0.2, metadata={"help": "wsd: fraction of steps spent decaying"})


@dataclass
class TrainConfig:
    """`roots train`: causal LM training on token shards, resumable exactly."""

    data: str = field(default="", metadata={"help": "token shards folder (with meta.json)"})
    out_dir: str = field(default="runs/train", metadata={"help": "run folder"})
    model: ModelConfig = field(default_factory=lambda: ModelConfig.from_preset("gpt2-micro", vocab_size=0))
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int = field(default=12, metadata={"help": "sequences per micro-batch per process"})
    block_size: int = field(default=0, metadata={"help": "training context; 0 means model.block_size"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step per process"})
    max_steps: int = 2000
    eval_every: int = field(default=250, metadata={"help": "evaluate + checkpoint every N steps; 0: at end"})
    eval_batches: int = field(default=50, metadata={"help": "validation batches per evaluation"})
    log_every: int = 10
    keep_checkpoints: int = field(default=2, metadata={"help": "step_N folders kept besides the best"})
    seed: int = 1337
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:1, mps"})
    dtype: Literal["auto", "float32", "bfloat16"] = field(
        default="auto", metadata={"help": "autocast dtype; auto: bfloat16 on CUDA, float32 elsewhere"})
    compile: bool = False
    parallel: Literal["ddp", "fsdp"] = field(default="ddp", metadata={"help": "under torchrun"})
    threads: int = field(default=0, metadata={"help": "CPU threads for torch; 0 leaves torch's default"})
    resume: str = field(default="auto", metadata={
        "help": "auto (continue from the newest intact checkpoint, if any), none (a fresh run; refused where "
                "checkpoints exist), or a checkpoint folder"})
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.block_size == 0:
            self.block_size = self.model.block_size
        if self.block_size > self.model.block_size:
            raise ValueError(f"block_size {self.block_size} exceeds model.block_size {self.model.block_size}")
        for name in ("batch_size", "grad_accum", "max_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
