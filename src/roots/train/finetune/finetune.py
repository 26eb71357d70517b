"""`roots finetune`: adapt a pretrained roots model to a JSONL task, fully or through an adapter.

    OUT/adapter.safetensors   the trained parameters only (LoRA A/B, prefixes, soft prompt, task head;
                              every parameter for --method full)
    OUT/adapter.json          format roots.finetune v1: method, its settings, task, labels, base checkpoint
    OUT/metrics.json          validation metrics (accuracy/P/R/F1, BLEU/chrF with sacrebleu's signature,
                              or loss)
    OUT/merged/               with --merge and --method lora: base + adapter folded into one plain model
    OUT/checkpoint/           resume state (trainable parameters, optimizer, step), replaced atomically
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.common.errors import UserError
from roots.common.io import apply_umask, read_json, write_json
from roots.common.records import artifact_meta, write_run_record
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
    checkpoint_every: int = field(default=200, metadata={"help": "steps between resume checkpoints"})
    merge: bool = field(default=False, metadata={"help": "lora: also write base + adapter merged to OUT/merged"})
    seed: int = 1337
    device: str = "auto"
    threads: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or self.virtual_tokens < 1 or self.lora.rank < 1:
            raise UserError("--batch-size, --epochs, --virtual-tokens and --lora.rank must be at least 1")
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


def mark_trainable(task_model: TaskModel, method: str) -> tuple[int, int]:
    """Freeze everything but the adapter and the task head (all of it for full); (trainable, total) counts."""
    adapter_names = {"lora": ("lora_a", "lora_b"), "prefix": (".prefix.",), "prompt": ("soft_prompt",)}
    for name, p in task_model.named_parameters():
        p.requires_grad = (method == "full" or name.startswith("head.")
                           or any(key in name for key in adapter_names.get(method, ())))
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


class FinetuneRun:
    """One fine-tuning run: data, model + adapter, loop with resumable checkpoints, evaluation."""

    def __init__(self, config: FinetuneConfig) -> None:
        from roots.model.generate import find_tokenizer
        from roots.model.io import find_checkpoint, load_model
        from roots.tokenizer.tokenizer import Tokenizer
        from roots.train.trainer import resolve_device

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
        self.tokenizer_path = find_tokenizer(self.checkpoint)
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
        from roots.train.optim import build_optimizer, build_scheduler

        steps_per_epoch = math.ceil(len(self.train_set) / config.batch_size)
        self.max_steps = config.max_steps or config.epochs * steps_per_epoch
        self.optimizer = build_optimizer(self.model, config.optim, self.device.type)
        self.scheduler = build_scheduler(self.optimizer, config.schedule, self.max_steps)
        self.step = 0
        self._maybe_resume()

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

    # -------------------------------------------------------------------------------- loop

    def batch_at(self, step: int) -> list[Example]:
        """The examples of optimizer step `step`: a seeded permutation per epoch, so a resume needs only
        the step."""
        bs = self.config.batch_size
        per_epoch = math.ceil(len(self.train_set) / bs)
        epoch, i = divmod(step, per_epoch)
        order = np.random.default_rng(self.config.seed + epoch).permutation(len(self.train_set))
        return [self.train_set[j] for j in order[i * bs : (i + 1) * bs]]

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in batch.items()}

    def fit(self, stop_at: int | None = None) -> None:
        """Train to max_steps (or stop after step `stop_at` with a checkpoint, as a killed run would)."""
        from tqdm.auto import tqdm

        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        bar = tqdm(initial=self.step, total=self.max_steps, desc=f"finetune ({self.config.method})", unit="step")
        while self.step < self.max_steps:
            batch = collate(self.batch_at(self.step), self.config.task, self.arch, self.encoder.pad)
            loss = self.model(self._to_device(batch))
            loss.backward()
            if self.config.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, self.config.optim.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            if self.step % self.config.checkpoint_every == 0 and self.step < self.max_steps:
                self.save_checkpoint()
            if stop_at is not None and self.step >= stop_at:
                break
        bar.close()

    # -------------------------------------------------------------------------------- state

    def save_checkpoint(self) -> None:
        """OUT/checkpoint, written to a temporary folder and renamed over the old one."""
        from safetensors.torch import save_file

        self.out.mkdir(parents=True, exist_ok=True)
        tmp, final = self.out / ".tmp.checkpoint", self.out / "checkpoint"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_file(trainable_state(self.model), str(tmp / ADAPTER))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()},
                   tmp / "optimizer.pt")
        write_json(tmp / "state.json", {"format": FORMAT + ".checkpoint", "format_version": 1, "step": self.step,
                                        "rng": torch.get_rng_state().tolist()})
        old = self.out / ".old.checkpoint"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)

    def _maybe_resume(self) -> None:
        from safetensors.torch import load_file

        path = self.out / "checkpoint"
        if not (path / "state.json").is_file():
            return
        state = read_json(path / "state.json")
        self.model.load_state_dict(load_file(str(path / ADAPTER), device=str(self.device)), strict=False)
        optim = torch.load(path / "optimizer.pt", weights_only=True)
        self.optimizer.load_state_dict(optim["optimizer"])
        self.scheduler.load_state_dict(optim["scheduler"])
        torch.set_rng_state(torch.tensor(state["rng"], dtype=torch.uint8))
        self.step = state["step"]

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
        shutil.rmtree(self.out / "checkpoint", ignore_errors=True)  # done: the resume state is spent

    # -------------------------------------------------------------------------------- evaluation

    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """Validation loss, plus accuracy/P/R/F1 (classification) or BLEU/chrF (seq2seq)."""
        self.model.eval()
        cfg, data = self.config, self.valid_set
        if not data:
            return {"n": 0}
        losses, preds = [], []
        for i in range(0, len(data), cfg.batch_size):
            batch = self._to_device(collate(data[i : i + cfg.batch_size], cfg.task, self.arch, self.encoder.pad))
            losses.append(float(self.model(batch)) * len(data[i : i + cfg.batch_size]))
            if cfg.task == "classification":
                preds += self.model.class_logits(batch).argmax(-1).tolist()
        metrics: dict[str, Any] = {"val_loss": sum(losses) / len(data), "n": len(data)}
        if cfg.task == "classification":
            from roots.eval.classification import classification_metrics

            labels = self.encoder.labels
            metrics.update(classification_metrics([labels[e.label] for e in data], [labels[p] for p in preds],
                                                  labels))
        elif cfg.task == "seq2seq":
            metrics.update(self._translate_and_score(data[: cfg.eval_limit or len(data)]))
        self.model.train()
        return metrics

    def _translate_and_score(self, data: list[Example]) -> dict[str, Any]:
        from tqdm.auto import tqdm

        from roots.eval.mt import mt_scores
        from roots.model.generate import sample

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
        (self.out / "valid.hyp.txt").parent.mkdir(parents=True, exist_ok=True)
        (self.out / "valid.hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
        return mt_scores(hyps, [[e.reference for e in data]], ["bleu", "chrf"])


def finetune(config: FinetuneConfig) -> int:
    """`roots finetune`: train, evaluate on the validation set, write the adapter and its metrics."""
    start = time.time()
    run = FinetuneRun(config)
    run.fit()
    metrics = run.evaluate()
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
