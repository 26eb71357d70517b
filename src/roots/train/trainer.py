"""The training loop: causal LM on token shards, periodic evaluation, atomic checkpoints, exact resume.

Run it single-process (`roots train --config configs/X.yaml`) or under torchrun for DDP/FSDP
(`torchrun --nproc-per-node 8 -m roots.cli train --config ... --parallel fsdp`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from roots.common.config import save_yaml
from roots.common.errors import UserError, reading
from roots.common.io import write_json
from roots.common.records import write_run_record
from roots.model.build import build_model
from roots.model.io import resolve_device
from roots.train import checkpoint as ckpt
from roots.train.config import TrainConfig
from roots.train.loader import RandomWindowLoader, TokenShards
from roots.train.metrics import MetricsLog, StepMeter, plot_loss
from roots.train.optim import build_optimizer, build_scheduler
from roots.train.parallel import gradient_sync, init_distributed, mean_across, wrap_model

Batch = Any  # a dict of the model's keyword inputs, or an (inputs, targets) pair of CLM windows
LossFn = Callable[[torch.nn.Module, Batch], torch.Tensor]
MetricFn = Callable[[torch.nn.Module], Any]  # the plain model in eval mode -> a number or a dict of numbers


class BatchSource(Protocol):
    """What the loop trains on: each call gives this process's micro-batches of one optimizer step; its
    state (a generator's, or a position) is all a checkpoint needs for an exact resume."""

    def next_step(self) -> list[Batch]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The pretraining loss: the model's own (CLM, MLM + NSP, span corruption) from its keyword inputs."""
    return model(**batch)[1]


class Trainer:
    """The training loop of every run: pretraining on token shards (`roots train`) and fine-tuning
    (`roots finetune`), which brings its own batches, loss, metrics and trainable parameters.

    It owns the optimizer, schedule, autocast, gradient accumulation, DDP/FSDP, metrics.jsonl + TensorBoard,
    periodic evaluation, best/last checkpoints and the exact-resume rules (`resume_point`).
    """

    def __init__(self, config: TrainConfig | None = None, *, model: torch.nn.Module | None = None,
                 dataset: str | os.PathLike | None = None, batches: BatchSource | None = None,
                 val_batches: Callable[[], Iterable[Batch]] | None = None, loss_fn: LossFn = lm_loss,
                 metrics: Mapping[str, MetricFn] | None = None,
                 trainable: Callable[[str, torch.nn.Parameter], bool] | None = None, **fields: Any) -> None:
        """`Trainer(config)`, or by keywords, the way people script it:

            Trainer(model=TransformerModel.from_preset("gpt2-micro", vocab_size=4096),
                    dataset="shards/", out_dir="runs/x", max_steps=200).train()

        `model` is a module to train as it is (its config and current weights), `dataset` a token-shards
        folder, and any other keyword a `TrainConfig` field (optim=OptimConfig(lr=1e-3), batch_size=8, ...).
        Other tasks pass `batches` (a BatchSource) and `val_batches` instead of shards, `loss_fn(model,
        batch)`, `metrics` {name: fn(model)} logged at each evaluation, and `trainable(name, param)`: the
        parameters that train (the rest are frozen and stay out of checkpoints).
        """
        config = _resolve_config(config, model, dataset, fields)
        if batches is None and not config.data:
            raise UserError("no training data: set --data to a token-shards folder (see `roots tokenize`)")
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        device = resolve_device(config.device)
        self.dist = init_distributed(device.type)
        if device.type == "cuda" and self.dist.enabled:
            device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        self.dtype = self._autocast_dtype()
        self.run_dir = Path(config.out_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.loss_fn, self.metric_fns = loss_fn, dict(metrics or {})
        self.command = "train" if batches is None else "finetune"
        self.data_meta: dict[str, Any] | None = None
        if batches is None:  # data first: the vocabulary size comes from the shards
            self.train_shards = TokenShards(config.data, "train")
            self.val_shards = TokenShards(config.data, "val")
            self.data_meta = self.train_shards.meta
            vocab = int(self.data_meta["vocab_size"])
            if config.model.vocab_size == 0:
                config.model = dataclasses.replace(config.model, vocab_size=vocab)
            elif config.model.vocab_size < vocab:
                raise UserError(f"model.vocab_size {config.model.vocab_size} is smaller than the shards' "
                                f"vocabulary ({vocab}); set it to 0 to take it from the data")

        self._seed_everything(config.seed)
        # the plain module: checkpoints come from here
        self.model = (model if model is not None else build_model(config.model)).to(device)
        if trainable is not None:
            for name, p in self.model.named_parameters():
                p.requires_grad = trainable(name, p)
        self.trainable_names = {n for n, p in self.model.named_parameters() if p.requires_grad}
        self.train_model = wrap_model(self.model, self.dist, config.parallel, device, config.compile)
        self.optimizer = build_optimizer(self.model, config.optim, device.type)
        self.scheduler = build_scheduler(self.optimizer, config.schedule, config.max_steps)
        if batches is None:
            self.train_loader, self._val_loader = self._shard_loaders()
            val_batches = self._shard_val_batches
        self.train_loader: BatchSource = batches if batches is not None else self.train_loader
        self.val_batches = val_batches
        self.step = 0  # optimizer steps done
        self.best_val = math.inf
        self._last_grad_norm: torch.Tensor | None = None
        self._maybe_resume()

    # ------------------------------------------------------------------------------------------- setup

    def _shard_loaders(self) -> tuple[BatchSource, Any]:
        config, world = self.config, dict(rank=self.dist.rank, world_size=self.dist.world_size)
        if config.model.arch == "decoder":
            return (RandomWindowLoader(self.train_shards, config.batch_size, config.block_size, config.grad_accum,
                                       seed=config.seed, **world),
                    RandomWindowLoader(self.val_shards, config.batch_size, config.block_size, config.eval_batches,
                                       seed=config.seed + 1, **world))
        # encoder: MLM + NSP; encoder-decoder: span corruption (roots.train.objectives)
        from roots.train.objectives import make_loader

        ids = _special_ids(Path(config.data), self.data_meta)
        args = (config.model.arch, ids, config.model.vocab_size, config.batch_size, config.block_size)
        return (make_loader(args[0], self.train_shards, *args[1:], config.grad_accum, seed=config.seed, **world),
                make_loader(args[0], self.val_shards, *args[1:], config.eval_batches, seed=config.seed + 1,
                            **world))

    def _shard_val_batches(self) -> list[Batch]:
        """The same eval_batches windows at every evaluation."""
        self._val_loader.generator.manual_seed(self.config.seed + 1)
        return self._val_loader.next_step()

    def _autocast_dtype(self) -> torch.dtype:
        if self.config.dtype == "bfloat16" or (self.config.dtype == "auto" and self.device.type == "cuda"):
            return torch.bfloat16
        return torch.float32

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _seed_everything(self, seed: int) -> None:
        # every rank builds identical initial weights; dropout masks differ per rank (reseeded below)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _maybe_resume(self) -> None:
        path = resume_point(self.config.resume, self.ckpt_dir, self.command, self.dist.is_main)
        if path is None:
            torch.manual_seed(self.config.seed + self.dist.rank)
        else:
            self.load_checkpoint(path, verified=True)

    # ------------------------------------------------------------------------------------------- loop

    def train(self) -> dict[str, Any]:
        """Train up to max_steps (resuming if the run folder holds a checkpoint); the same as `fit()`."""
        return self.fit()

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Train up to max_steps (or until `stop_at`, as if killed right after that step's checkpoint).

        Throughput and MFU are measured over the training steps alone (evaluation and checkpoints are not
        timed), with one device sync per logged step rather than one per step.
        """
        cfg, main = self.config, self.dist.is_main
        if main:
            self._write_run_files()
        log = MetricsLog(self.run_dir, self.step, cfg.tensorboard) if main else None
        meter = StepMeter(self.device, self.dtype)
        end = min(cfg.max_steps, stop_at or cfg.max_steps)
        bar = _progress(self.step, cfg.max_steps, self.command, disable=not main)
        last_val = None
        self.train_model.train()
        meter.start()
        while self.step < end:
            loss, tokens, flops = self.train_step()
            meter.add(loss, tokens, flops)
            self.step += 1
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == 1 or self.step == end:
                train_loss, tok_s, mfu = meter.read()  # syncs the device once
                train_loss = mean_across(train_loss, self.dist, self.device)
                bar.set_postfix(loss=f"{train_loss:.4f}", tok_s=f"{tok_s:,.0f}", mfu=f"{mfu:.1%}", refresh=False)
                if log:
                    log.log(self.step, train_loss=train_loss, lr=self.scheduler.get_last_lr()[0], tokens_per_s=tok_s,
                            mfu=mfu, grad_norm=self._grad_norm())
            if (cfg.eval_every and self.step % cfg.eval_every == 0) or self.step == cfg.max_steps:
                meter.pause()
                last_val, extra = self.evaluate(), self.run_metrics()
                improved = last_val < self.best_val
                self.best_val = min(self.best_val, last_val)
                if log:
                    log.log(self.step, val_loss=last_val, best_val_loss=self.best_val, **extra)
                bar.write(f"step {self.step}: val loss {last_val:.4f} (best {self.best_val:.4f})")
                self.save_checkpoint(best=improved)
                meter.start()
        bar.close()
        if log:
            log.close()
            plot_loss(self.run_dir)
        return {"step": self.step, "val_loss": last_val, "best_val_loss": self.best_val, "run_dir": str(self.run_dir)}

    def train_step(self) -> tuple[torch.Tensor, int, float]:
        """One optimizer step over grad_accum micro-batches: (mean loss on this process, as a device tensor
        that is not synced; tokens; training FLOPs)."""
        cfg = self.config
        micro_batches = self.train_loader.next_step()
        total = torch.zeros((), device=self.device)
        tokens, flops = 0, 0.0
        for i, batch in enumerate(micro_batches):
            inputs = self._inputs(batch)
            n, f = self._work(inputs)
            tokens, flops = tokens + n, flops + f
            with gradient_sync(self.train_model, sync=i == len(micro_batches) - 1), self._autocast():
                loss = self.loss_fn(self.train_model, inputs) / len(micro_batches)
            loss.backward()
            total += loss.detach()
        self._last_grad_norm = None
        if cfg.optim.grad_clip > 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            self._last_grad_norm = norm  # a tensor: read (synced) only when logged
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total, tokens, flops

    def _grad_norm(self) -> float | None:
        norm = self._last_grad_norm
        if norm is None:
            return None
        return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)

    def _work(self, inputs: dict[str, torch.Tensor]) -> tuple[int, float]:
        """Tokens in a micro-batch and the FLOPs of training on them (from shapes: no device sync)."""
        idx = inputs.get("idx")
        if idx is None or not hasattr(self.model, "flops_per_token"):
            return 0, 0.0
        tokens = idx.numel()
        return tokens, self.model.flops_per_token(idx.size(-1)) * tokens

    def _inputs(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The model's keyword inputs on the device: CLM windows are (x, y); other objectives give dicts."""
        if not isinstance(batch, dict):
            batch = {"idx": batch[0], "targets": batch[1]}
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean validation loss over the validation batches (the same ones at every evaluation)."""
        self.train_model.eval()
        losses = []
        for batch in self.val_batches():
            with self._autocast():
                losses.append(self.loss_fn(self.train_model, self._inputs(batch)).float())
        self.train_model.train()
        mean = torch.stack(losses).mean().item() if losses else math.nan
        return mean_across(mean, self.dist, self.device)

    @torch.no_grad()
    def run_metrics(self) -> dict[str, Any]:
        """The task's metric functions on the model in eval mode, flattened to numbers for metrics.jsonl."""
        if not self.metric_fns:
            return {}
        self.model.eval()
        out: dict[str, Any] = {}
        with self._autocast():
            for name, fn in self.metric_fns.items():
                value = fn(self.model)
                if isinstance(value, dict):
                    out.update({f"{name}/{k}": v for k, v in value.items() if isinstance(v, (int, float))})
                else:
                    out[name] = value
        self.model.train()
        return out

    # ------------------------------------------------------------------------------------------- state

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.data_meta is not None:  # a task that brings its own batches writes its own config
            save_yaml(self.config, self.run_dir / "config.yaml")
            write_json(self.run_dir / "data_meta.json", {**self.data_meta, "path": str(self.config.data)})
            tokenizer = _tokenizer_file(Path(self.config.data), self.data_meta)
            if tokenizer is not None:  # a copy makes the run self-contained for `roots generate` and serving
                shutil.copyfile(tokenizer, self.run_dir / "tokenizer.json")
        params = sum(p.numel() for p in self.model.parameters())
        write_run_record(self.run_dir, self.command, self.config, world_size=self.dist.world_size,
                         device=str(self.device), autocast_dtype=str(self.dtype), parameters=params,
                         trainable_parameters=sum(p.numel() for p in self.model.parameters() if p.requires_grad),
                         resumed_at_step=self.step)

    def _rng_state(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state().tolist()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device).tolist()
        return state

    def _model_state(self, full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What a checkpoint holds of the model: a pretraining run's whole model (a loadable checkpoint), a
        task's trainable parameters (the frozen ones come back from its base model; tied ones are held once)."""
        if self.command == "train":
            return full
        return {k: v for k, v in full.items() if k in self.trainable_names}

    def save_checkpoint(self, best: bool = False) -> Path | None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        # full (unsharded) state on CPU; with FSDP every rank takes part in the gather
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        model_state, optim_state = get_state_dict(self.model, self.optimizer, options=options)
        rng = [self._rng_state()]
        if self.dist.enabled:
            rng = [None] * self.dist.world_size
            dist.all_gather_object(rng, self._rng_state())
        path = None
        if self.dist.is_main:
            state = {"step": self.step, "best_val_loss": self.best_val, "loader": self.train_loader.state_dict(),
                     "rng": rng, "world_size": self.dist.world_size}
            optim = {"optimizer": optim_state, "scheduler": self.scheduler.state_dict()}
            path = ckpt.save_checkpoint(self.ckpt_dir, self.step, self._model_state(model_state), optim, state,
                                        self.config)
            if best:
                ckpt.set_pointer(self.ckpt_dir, "best", path.name)
            ckpt.prune(self.ckpt_dir, self.config.keep_checkpoints)
        if self.dist.enabled:
            dist.barrier()
        return path

    def load_checkpoint(self, path: Path, verified: bool = False) -> None:
        from safetensors.torch import load_file
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        state = ckpt.load_state(path, verified=verified)
        if state["world_size"] != self.dist.world_size:
            raise UserError(f"{path} was written by {state['world_size']} processes, this run has "
                            f"{self.dist.world_size}; an exact resume needs the same number")
        with reading(path / "model.safetensors"):
            model_state = load_file(str(path / "model.safetensors"))
        if self.config.model.tie_embeddings and "transformer.wte.weight" in model_state:
            model_state["lm_head.weight"] = model_state["transformer.wte.weight"]
        with reading(path / "optimizer.pt"):
            optim = torch.load(path / "optimizer.pt", weights_only=True)
        partial = model_state.keys() != dict(self.model.state_dict()).keys()
        set_state_dict(self.model, self.optimizer, model_state_dict=model_state,
                       optim_state_dict=optim["optimizer"],
                       options=StateDictOptions(full_state_dict=True, strict=not partial))
        self.scheduler.load_state_dict(optim["scheduler"])
        self.train_loader.load_state_dict(state["loader"])
        rng = state["rng"][self.dist.rank]
        torch.set_rng_state(torch.tensor(rng["torch"], dtype=torch.uint8))
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(torch.tensor(rng["cuda"], dtype=torch.uint8), self.device)
        self.step, self.best_val = state["step"], state["best_val_loss"]


def resume_point(resume: str, ckpt_dir: Path, command: str, report: bool = True) -> Path | None:
    """The checkpoint a run continues from under the `--resume` rules, or None for a fresh start.

    auto: the newest checkpoint that verifies, saying which newer ones were skipped and why; a fresh start
    only where there is no checkpoint at all. none (or no): a fresh start, refused where checkpoints exist.
    A path: that checkpoint, which must verify.
    """
    run_dir = ckpt_dir.parent
    if resume in ("none", "no"):
        if ckpt.has_checkpoints(ckpt_dir):
            raise UserError(f"{run_dir} already holds checkpoints; use --resume auto to continue it or choose "
                            f"another --out-dir")
        return None
    if resume != "auto":
        path = ckpt.find_checkpoint(resume)
        ckpt.load_state(path)  # verifies: a damaged checkpoint is one line, not a deserializer's traceback
        return path
    path, skipped = ckpt.newest_intact(ckpt_dir)
    if report:
        for bad, reason in skipped:
            print(f"roots {command}: skipping checkpoint {bad}: {reason}", file=sys.stderr)
    if path is None and (skipped or ckpt.has_checkpoints(ckpt_dir)):
        raise UserError(f"no intact checkpoint in {ckpt_dir} (skipped {len(skipped)}); to start over, use a new "
                        f"--out-dir (or delete {ckpt_dir}); --resume PATH resumes from a copy you trust")
    if path is not None and skipped and report:
        print(f"roots {command}: resuming from {path.name}", file=sys.stderr)
    return path


def _tokenizer_file(data_dir: Path, meta: dict[str, Any]) -> Path | None:
    """The shards' tokenizer.json: meta's tokenizer_dir (absolute, or relative to the shards or cwd)."""
    tok_dir = meta.get("tokenizer_dir")
    candidates = [data_dir / "tokenizer.json"]
    if tok_dir:
        candidates = [Path(tok_dir) / "tokenizer.json", data_dir / tok_dir / "tokenizer.json", *candidates]
    return next((c for c in candidates if c.exists()), None)


def _special_ids(data_dir: Path, meta: dict[str, Any]):
    """The objective's special token ids, from the shards' tokenizer folder (None when there is none)."""
    from roots.tokenizer.special import SpecialIds
    from roots.tokenizer.tokenizer import Tokenizer

    path = _tokenizer_file(data_dir, meta)
    return SpecialIds.from_tokenizer(Tokenizer.load(path.parent)) if path is not None else None


def _progress(initial: int, total: int, desc: str, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(initial=initial, total=total, desc=desc, unit="step", disable=disable, dynamic_ncols=True)


def _resolve_config(config: TrainConfig | None, model: torch.nn.Module | None,
                    dataset: str | os.PathLike | None, fields: dict[str, Any]) -> TrainConfig:
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(fields) - valid
    if unknown:
        raise TypeError(f"Trainer got unknown option(s) {sorted(unknown)}; TrainConfig fields: {sorted(valid)}")
    if model is not None:
        if not hasattr(model, "config") or not hasattr(model.config, "arch"):
            raise TypeError("Trainer(model=...) needs a roots model (TransformerModel or a family built by "
                            "roots.model.build.build_model)")
        fields["model"] = model.config
    if dataset is not None:
        fields["data"] = str(dataset)
    if config is None:
        return TrainConfig(**fields)
    return dataclasses.replace(config, **fields) if fields else config


def train(config: TrainConfig) -> int:
    """`roots train`: train (or resume) the run in config.out_dir."""
    trainer = Trainer(config)
    result = trainer.fit()
    if trainer.dist.is_main:
        val = result["val_loss"]
        print(f"roots train: {result['step']} steps, val loss {val:.4f} (best {result['best_val_loss']:.4f}); "
              f"wrote {trainer.run_dir}/ (checkpoints/, metrics.jsonl, loss.png, tb/)" if val is not None else
              f"roots train: nothing to do, {result['step']} steps already done in {trainer.run_dir}/")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
