"""Fine-tuning a pretrained roots model on a JSONL task, fully or through an adapter, with the Trainer.

A fine-tuning run is the Trainer with another batch source (the task's examples), loss (the task model's),
trainable-parameter set (full, LoRA, prefix or prompt) and metric functions passed in by the command
(roots.workflows.finetune), so it gets autocast, gradient accumulation, DDP/FSDP, metrics.jsonl +
TensorBoard, periodic evaluation, best/last checkpoints and the same exact resume and `--resume` rules.

    OUT/adapter.safetensors   the trained parameters only (LoRA A/B, prefixes, soft prompt, task head;
                              every parameter for --method full)
    OUT/adapter.json          format roots.finetune v1: method, its settings, task, labels, base checkpoint
    OUT/metrics.json          validation metrics (accuracy/P/R/F1, BLEU/chrF with sacrebleu's signature,
                              or loss)
    OUT/merged/               with --merge and --method lora: base + adapter folded into one plain model
    OUT/checkpoints/          the Trainer's checkpoints (trainable parameters, optimizer, data position)
    OUT/metrics.jsonl, tb/    training and validation curves
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.common.config import save_yaml
from roots.common.errors import UserError
from roots.common.io import apply_umask, read_json, write_json
from roots.common.records import artifact_meta
from roots.train.config import OptimConfig, ScheduleConfig
from roots.train.finetune.adapters import apply_lora, apply_prefix, apply_prompt, merge_lora
from roots.train.finetune.data import Encoder, Example, Fields, read_jsonl

FORMAT = "roots.finetune"
ADAPTER = "adapter.safetensors"


@dataclass
class LoRAConfig:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: list[str] = field(default_factory=lambda: ["c_attn", "c_proj", "c_fc", "q_proj", "c_kv"],
                               metadata={"help": "names of the Linear layers to adapt"})


@dataclass
class FinetuneConfig:
    """`roots finetune`: fine-tune a pretrained model on JSONL task data."""

    model: str = field(default="", metadata={"help": "pretrained run folder or checkpoint folder"})
    train: str = field(default="", metadata={"help": "training JSONL"})
    valid: str = field(default="", metadata={"help": "validation JSONL; empty: hold out --val-fraction"})
    out_dir: str = "runs/finetune"
    task: Literal["classification", "seq2seq", "chat"] = "classification"
    method: Literal["full", "lora", "prefix", "prompt"] = "lora"
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    virtual_tokens: int = field(default=16, metadata={"help": "prefix / prompt length"})
    fields: Fields = field(default_factory=Fields)
    max_length: int = field(default=0, metadata={"help": "tokens per sequence; 0: the model's block_size"})
    epochs: int = 3
    max_steps: int = field(default=0, metadata={"help": "optimizer steps; 0: epochs x steps per epoch"})
    batch_size: int = 16
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, weight_decay=0.0))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(name="linear", warmup_steps=20,
                                                                           min_lr_ratio=0.0))
    val_fraction: float = 0.1
    eval_limit: int = field(default=0, metadata={"help": "validation examples to generate for (0: all)"})
    num_beams: int = field(default=4, metadata={"help": "seq2seq evaluation: beam size (1: greedy)"})
    max_new_tokens: int = 128
    merge: bool = field(default=False, metadata={"help": "lora: also write base + adapter merged to OUT/merged"})
    # the training loop's settings, as `roots train` has them
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step per process"})
    eval_every: int = field(default=200, metadata={"help": "validation loss + metrics + checkpoint every N "
                                                           "steps; 0: at the end"})
    log_every: int = 10
    keep_checkpoints: int = field(default=2, metadata={"help": "step_N folders kept besides the best"})
    seed: int = 1337
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = field(
        default="auto", metadata={"help": "autocast dtype; auto: bfloat16 on CUDA, float32 elsewhere"})
    compile: bool = False
    parallel: Literal["ddp", "fsdp"] = field(default="ddp", metadata={"help": "under torchrun"})
    threads: int = 0
    resume: str = field(default="auto", metadata={
        "help": "auto (continue from the newest intact checkpoint, if any), none (a fresh run; refused where "
                "checkpoints exist), or a checkpoint folder"})
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if min(self.batch_size, self.epochs, self.virtual_tokens, self.lora.rank, self.grad_accum) < 1:
            raise UserError("--batch-size, --epochs, --virtual-tokens, --lora.rank and --grad-accum must be at "
                            "least 1")
        if not 0 <= self.val_fraction < 1:
            raise UserError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")


class TaskModel(nn.Module):
    """A pretrained model plus what the task adds: a classification head on its pooled output."""

    def __init__(self, base: nn.Module, task: str, num_labels: int = 0) -> None:
        super().__init__()
        self.base, self.task, self.arch = base, task, base.config.arch
        if task == "classification":
            if self.arch == "encoder-decoder":
                raise UserError("classification fine-tuning needs an encoder or a decoder model")
            self.head = nn.Linear(base.config.n_embd, num_labels)
            nn.init.normal_(self.head.weight, std=base.config.init_std)
            nn.init.zeros_(self.head.bias)

    @property
    def config(self) -> Any:
        """The base model's config (what the Trainer reads: arch, block size)."""
        return self.base.config

    def flops_per_token(self, seq_len: int | None = None) -> float:
        return self.base.flops_per_token(seq_len)

    def class_logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, num_labels): BERT's pooled [CLS] for encoders, the last real token's state for decoders."""
        if self.arch == "encoder":
            pooled = self.base.pool(self.base.features(batch["idx"], batch["token_type"], batch["key_mask"]))
        else:
            h = self.base.features(batch["idx"])  # (B, T, C); right padding never reaches earlier tokens
            pooled = h[torch.arange(h.size(0), device=h.device), batch["lengths"] - 1]
        return self.head(pooled)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean loss of a batch."""
        if self.task == "classification":
            return F.cross_entropy(self.class_logits(batch).float(), batch["labels"])
        if self.arch == "encoder-decoder":
            return self.base(batch["idx"], batch["dec_idx"], batch["key_mask"], batch["targets"])[1]
        return self.base(batch["idx"], targets=batch["targets"])[1]


def collate(examples: list[Example], task: str, arch: str, pad: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors of a batch for the task and model family."""
    if task == "seq2seq" and arch == "encoder-decoder":
        from roots.train.objectives import seq2seq_batch

        return seq2seq_batch([(e.ids, e.target) for e in examples], pad)
    B, T = len(examples), max(len(e.ids) for e in examples)
    idx = torch.full((B, T), pad, dtype=torch.long)
    key_mask = torch.zeros(B, T, dtype=torch.long)
    token_type = torch.zeros(B, T, dtype=torch.long)
    targets = torch.full((B, T), -100, dtype=torch.long)
    for i, e in enumerate(examples):
        idx[i, : len(e.ids)] = torch.tensor(e.ids)
        key_mask[i, : len(e.ids)] = 1
        if e.token_type:
            token_type[i, : len(e.ids)] = torch.tensor(e.token_type)
        if e.target:
            targets[i, : len(e.target)] = torch.tensor(e.target)
    batch = {"idx": idx, "key_mask": key_mask, "token_type": token_type, "targets": targets,
             "lengths": torch.tensor([len(e.ids) for e in examples])}
    if task == "classification":
        batch["labels"] = torch.tensor([e.label for e in examples])
    return batch


# ------------------------------------------------------------------------------------------ setup


def attach(model: nn.Module, method: str, lora: LoRAConfig, virtual_tokens: int, seed: int) -> None:
    """Add the method's adapter to the base model (nothing for full fine-tuning)."""
    if method == "lora":
        apply_lora(model, lora.rank, lora.alpha, lora.targets, lora.dropout)
    elif method == "prefix":
        apply_prefix(model, virtual_tokens)
    elif method == "prompt":
        apply_prompt(model, virtual_tokens, seed)


def trainable_set(method: str) -> Callable[[str, nn.Parameter], bool]:
    """The parameters a method trains: the adapter and the task head (everything for full)."""
    keys = {"lora": ("lora_a", "lora_b"), "prefix": (".prefix.",), "prompt": ("soft_prompt",)}.get(method, ())
    return lambda name, _p: method == "full" or name.startswith("head.") or any(k in name for k in keys)


def mark_trainable(task_model: TaskModel, method: str) -> tuple[int, int]:
    """Freeze everything but the method's trainable set; (trainable, total) parameter counts."""
    trains = trainable_set(method)
    for name, p in task_model.named_parameters():
        p.requires_grad = trains(name, p)
    params = list(task_model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def trainable_state(task_model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu").contiguous() for n, p in task_model.named_parameters() if p.requires_grad}


def load_finetuned(out_dir: str | Path, device: str | torch.device = "cpu") -> tuple[TaskModel, dict[str, Any]]:
    """The fine-tuned model of a `roots finetune` output folder: base checkpoint + adapter, and its meta."""
    from safetensors.torch import load_file

    from roots.model.io import load_model

    out_dir = Path(out_dir)
    if not (out_dir / "adapter.json").is_file():
        raise UserError(f"{out_dir}: no adapter.json; expected a `roots finetune` output folder")
    meta = read_json(out_dir / "adapter.json")
    base = load_model(meta["base_checkpoint"], device)
    attach(base, meta["method"], LoRAConfig(**meta["lora"]), meta["virtual_tokens"], meta["seed"])
    task_model = TaskModel(base, meta["task"], len(meta["labels"])).to(device)
    mark_trainable(task_model, meta["method"])
    state = load_file(str(out_dir / ADAPTER), device=str(device))
    missing = set(trainable_state(task_model)) - set(state)
    if missing:
        raise UserError(f"{out_dir / ADAPTER} lacks {sorted(missing)[:3]}...: written for another model?")
    task_model.load_state_dict(state, strict=False)
    return task_model.eval(), meta


# ------------------------------------------------------------------------------------------ run


class ExampleBatches:
    """The task's examples as the Trainer's batch source: a seeded permutation per epoch, each optimizer step
    the next batch_size x grad_accum x world examples (wrapping at the end of an epoch), this process's share
    collated into micro-batches. The step is all a resume needs."""

    def __init__(self, examples: list[Example], collate_fn: Callable[[list[Example]], dict[str, torch.Tensor]],
                 batch_size: int, grad_accum: int = 1, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.examples, self.collate_fn, self.seed = examples, collate_fn, seed
        self.batch_size, self.grad_accum, self.rank, self.world_size = batch_size, grad_accum, rank, world_size
        self.per_step = batch_size * grad_accum * world_size
        self.steps_per_epoch = math.ceil(len(examples) / self.per_step)
        self.step = 0

    def indices(self, step: int) -> np.ndarray:
        """The dataset positions of optimizer step `step`, for all processes and micro-batches."""
        epoch, i = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng(self.seed + epoch).permutation(len(self.examples))
        return order[(i * self.per_step + np.arange(self.per_step)) % len(order)]

    def next_step(self) -> list[dict[str, torch.Tensor]]:
        mine = self.indices(self.step).reshape(self.world_size, self.grad_accum, self.batch_size)[self.rank]
        self.step += 1
        return [self.collate_fn([self.examples[j] for j in row]) for row in mine]

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])


def task_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The Trainer's loss function for a TaskModel (or its DDP/compiled wrapper)."""
    return model(batch)


class FinetuneRun:
    """One fine-tuning run: the task data, base model + adapter, and the Trainer that trains it."""

    def __init__(self, config: FinetuneConfig, metrics: Mapping[str, Callable[[FinetuneRun], Any]] | None = None,
                 ) -> None:
        """`metrics`: {name: fn(run)} logged at each evaluation (the command passes eval's metrics; train does
        not import eval)."""
        from roots.model.io import find_checkpoint, find_tokenizer, load_model, resolve_device, run_dir_of
        from roots.tokenizer.tokenizer import Tokenizer
        from roots.train.trainer import Trainer

        if not config.model or not config.train:
            raise UserError("--model (a pretrained run or checkpoint folder) and --train (JSONL) are required")
        self.config, self.out = config, Path(config.out_dir)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.checkpoint = find_checkpoint(config.model)
        base = load_model(self.checkpoint, self.device)
        self.arch = base.config.arch
        if config.task == "chat" and self.arch != "decoder":
            raise UserError(f"chat fine-tuning needs a decoder; {config.model} is arch {self.arch!r}")
        self.tokenizer_path = find_tokenizer(self.checkpoint, run_dir_of(self.checkpoint))
        if self.tokenizer_path is None:
            raise UserError(f"no tokenizer found for {self.checkpoint} (its run folder records none)")
        self.tok = Tokenizer.load(self.tokenizer_path)
        max_length = config.max_length or base.config.block_size
        if config.method == "prompt":  # the soft prompt takes positions of the context
            max_length = min(max_length, base.config.block_size - config.virtual_tokens)
        self.skipped: Counter = Counter()
        self.encoder = Encoder(self.tok, config.task, self.arch, max_length, config.fields)
        self.train_set, self.valid_set = self._read_data()
        attach(base, config.method, config.lora, config.virtual_tokens, config.seed)
        self.model = TaskModel(base, config.task, len(self.encoder.labels)).to(self.device)
        self.trainable, self.total = mark_trainable(self.model, config.method)
        world = _world()
        batches = ExampleBatches(self.train_set, self.collate, config.batch_size, config.grad_accum, config.seed,
                                 **world)
        self.max_steps = config.max_steps or config.epochs * batches.steps_per_epoch
        self.trainer = Trainer(self._train_config(base.config), model=self.model, batches=batches,
                               val_batches=self.valid_batches, loss_fn=task_loss,
                               metrics={name: (lambda _model, fn=fn: fn(self)) for name, fn in (metrics or {}).items()},
                               trainable=trainable_set(config.method))
        self.device = self.trainer.device

    def _train_config(self, model_config: Any) -> Any:
        from roots.train.config import TrainConfig

        c = self.config
        return TrainConfig(out_dir=c.out_dir, model=model_config, optim=c.optim, schedule=c.schedule,
                           batch_size=c.batch_size, grad_accum=c.grad_accum, max_steps=self.max_steps,
                           eval_every=c.eval_every, log_every=c.log_every, keep_checkpoints=c.keep_checkpoints,
                           seed=c.seed, device=c.device, dtype=c.dtype, compile=c.compile, parallel=c.parallel,
                           threads=c.threads, resume=c.resume, tensorboard=c.tensorboard)

    def _read_data(self) -> tuple[list[Example], list[Example]]:
        cfg = self.config
        rows = read_jsonl(cfg.train, self.skipped)
        if cfg.valid:
            valid_rows = read_jsonl(cfg.valid, self.skipped)
        else:  # a seeded held-out share of the training file
            order = np.random.default_rng(cfg.seed).permutation(len(rows))
            n_val = round(cfg.val_fraction * len(rows))
            valid_rows = [rows[i] for i in order[:n_val]]
            rows = [rows[i] for i in order[n_val:]]
        if cfg.task == "classification":  # sorted: label ids do not depend on line order
            self.encoder.labels = sorted({str(r[cfg.fields.label]) for r in rows if cfg.fields.label in r})
        train = self.encoder.encode(rows, self.skipped, grow_labels=False)
        valid = self.encoder.encode(valid_rows, self.skipped, grow_labels=False)
        if not train:
            raise UserError(f"{cfg.train}: no usable training example (skipped: {dict(self.skipped)})")
        if cfg.task == "classification" and len(self.encoder.labels) < 2:
            raise UserError(f"{cfg.train}: classification needs at least 2 labels, found {self.encoder.labels}")
        return train, valid

    # -------------------------------------------------------------------------------- training

    @property
    def step(self) -> int:
        return self.trainer.step

    def collate(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        return collate(examples, self.config.task, self.arch, self.encoder.pad)

    def valid_batches(self) -> list[dict[str, torch.Tensor]]:
        bs, data = self.config.batch_size, self.valid_set
        return [self.collate(data[i : i + bs]) for i in range(0, len(data), bs)]

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Train to max_steps (or stop after step `stop_at`'s checkpoint, as a killed run would)."""
        if self.trainer.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_yaml(self.config, self.out / "config.yaml")
        return self.trainer.fit(stop_at)

    # -------------------------------------------------------------------------------- predictions

    @torch.no_grad()
    def predict_labels(self, data: list[Example]) -> list[str]:
        """Classification: the predicted label of each example."""
        self.model.eval()
        preds: list[int] = []
        for i in range(0, len(data), self.config.batch_size):
            batch = self.trainer._inputs(self.collate(data[i : i + self.config.batch_size]))
            preds += self.model.class_logits(batch).argmax(-1).tolist()
        return [self.encoder.labels[p] for p in preds]

    @torch.no_grad()
    def translate(self, data: list[Example]) -> list[str]:
        """Seq2seq: the generated target of each example (beam search for encoder-decoders, greedy else)."""
        from tqdm.auto import tqdm

        from roots.model.sampling import sample

        self.model.eval()
        cfg, base, hyps = self.config, self.model.base, []
        for e in tqdm(data, desc="generate", unit="ex"):
            if self.arch == "encoder-decoder":
                src = torch.tensor([e.ids], device=self.device)
                out = base.generate(src, start_id=self.encoder.pad, eos_id=self.encoder.eos,
                                    max_new_tokens=cfg.max_new_tokens, num_beams=cfg.num_beams)[0]
            else:
                prompt = torch.tensor([e.prompt], device=self.device)
                out = [int(t) for t in sample(base, prompt, cfg.max_new_tokens, temperature=0.0,
                                              eos_id=self.encoder.eos)]
                out = out[: out.index(self.encoder.eos)] if self.encoder.eos in out else out
            hyps.append(self.tok.decode(out).strip())
        return hyps

    # -------------------------------------------------------------------------------- output

    def save(self, metrics: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        from roots.model.io import save_model

        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        save_file(trainable_state(self.model), str(self.out / ADAPTER), metadata={"format": FORMAT})
        apply_umask(self.out / ADAPTER)
        write_json(self.out / "adapter.json", artifact_meta(
            FORMAT, 1, method=cfg.method, task=cfg.task, arch=self.arch, lora=dataclasses.asdict(cfg.lora),
            virtual_tokens=cfg.virtual_tokens, seed=cfg.seed, labels=self.encoder.labels,
            base_checkpoint=str(self.checkpoint), trainable_parameters=self.trainable,
            total_parameters=self.total))
        write_json(self.out / "metrics.json", metrics)
        shutil.copyfile(self.tokenizer_path, self.out / "tokenizer.json")
        if cfg.merge and cfg.method == "lora":
            merged = merge_lora(copy.deepcopy(self.model.base))
            save_model(merged, self.out / "merged")
            shutil.copyfile(self.tokenizer_path, self.out / "merged" / "tokenizer.json")


def _world() -> dict[str, int]:
    """This process's rank and the world size under torchrun (1 process otherwise)."""
    return {"rank": int(os.environ.get("RANK", "0")), "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
