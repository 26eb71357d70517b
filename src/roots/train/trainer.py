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
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from roots.common.config import save_yaml
from roots.common.errors import UserError
from roots.common.io import write_json
from roots.common.records import write_run_record
from roots.model.build import build_model
from roots.train import checkpoint as ckpt
from roots.train.config import TrainConfig
from roots.train.loader import RandomWindowLoader, TokenShards
from roots.train.metrics import MetricsLog, peak_flops, plot_loss
from roots.train.optim import build_optimizer, build_scheduler
from roots.train.parallel import gradient_sync, init_distributed, mean_across, wrap_model


def resolve_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


class Trainer:
    """Owns the model, optimizer, schedule, loaders and run folder of one training run."""

    def __init__(self, config: TrainConfig | None = None, *, model: torch.nn.Module | None = None,
                 dataset: str | os.PathLike | None = None, **fields: Any) -> None:
        """`Trainer(config)`, or by keywords, the way people script it:

            Trainer(model=TransformerModel.from_preset("gpt2-micro", vocab_size=4096),
                    dataset="shards/", out_dir="runs/x", max_steps=200).train()

        `model` is a module to train as it is (its config and current weights), `dataset` a token-shards
        folder, and any other keyword a `TrainConfig` field (optim=OptimConfig(lr=1e-3), batch_size=8, ...).
        """
        config = _resolve_config(config, model, dataset, fields)
        if not config.data:
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

        # data first: the vocabulary size comes from the shards
        self.train_shards = TokenShards(config.data, "train")
        self.val_shards = TokenShards(config.data, "val")
        self.data_meta = self.train_shards.meta
        vocab = int(self.data_meta["vocab_size"])
        if config.model.vocab_size == 0:
            config.model = dataclasses.replace(config.model, vocab_size=vocab)
        elif config.model.vocab_size < vocab:
            raise UserError(f"model.vocab_size {config.model.vocab_size} is smaller than the shards' vocabulary "
                            f"({vocab}); set it to 0 to take it from the data")

        self._seed_everything(config.seed)
        # the plain module: checkpoints come from here
        self.model = (model if model is not None else build_model(config.model)).to(device)
        self.train_model = wrap_model(self.model, self.dist, config.parallel, device, config.compile)
        self.optimizer = build_optimizer(self.model, config.optim, device.type)
        self.scheduler = build_scheduler(self.optimizer, config.schedule, config.max_steps)
        world = dict(rank=self.dist.rank, world_size=self.dist.world_size)
        if config.model.arch == "decoder":
            self.train_loader = RandomWindowLoader(self.train_shards, config.batch_size, config.block_size,
                                                   config.grad_accum, seed=config.seed, **world)
            self.val_loader = RandomWindowLoader(self.val_shards, config.batch_size, config.block_size,
                                                 config.eval_batches, seed=config.seed + 1, **world)
        else:  # encoder: MLM + NSP; encoder-decoder: span corruption (roots.train.objectives)
            from roots.train.objectives import make_loader

            ids = _special_ids(Path(config.data), self.data_meta)
            args = (config.model.arch, ids, config.model.vocab_size, config.batch_size, config.block_size)
            self.train_loader = make_loader(args[0], self.train_shards, *args[1:], config.grad_accum,
                                            seed=config.seed, **world)
            self.val_loader = make_loader(args[0], self.val_shards, *args[1:], config.eval_batches,
                                          seed=config.seed + 1, **world)
        self.step = 0  # optimizer steps done
        self.best_val = math.inf
        self._last_grad_norm: float | None = None
        self.tokens_per_step = config.batch_size * config.block_size * config.grad_accum * self.dist.world_size
        self._maybe_resume()

    # ------------------------------------------------------------------------------------------- setup

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
        path = resume_point(self.config.resume, self.ckpt_dir, "train", self.dist.is_main)
        if path is None:
            torch.manual_seed(self.config.seed + self.dist.rank)
        else:
            self.load_checkpoint(path, verified=True)

    # ------------------------------------------------------------------------------------------- loop

    def train(self) -> dict[str, Any]:
        """Train up to max_steps (resuming if the run folder holds a checkpoint); the same as `fit()`."""
        return self.fit()

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Train up to max_steps (or until `stop_at`, as if killed right after that step's checkpoint)."""
        cfg, main = self.config, self.dist.is_main
        if main:
            self._write_run_files()
        metrics = MetricsLog(self.run_dir, self.step, cfg.tensorboard) if main else None
        peak = peak_flops(self.device, self.dtype)
        flops_per_step = self.model.flops_per_token(cfg.block_size) * self.tokens_per_step
        end = min(cfg.max_steps, stop_at or cfg.max_steps)
        bar = _progress(self.step, cfg.max_steps, disable=not main)
        last_val = None
        self.train_model.train()
        while self.step < end:
            t0 = time.perf_counter()
            loss = self.train_step()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            dt = time.perf_counter() - t0
            self.step += 1
            tok_s, mfu = self.tokens_per_step / dt, flops_per_step / dt / peak
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tok_s:,.0f}", mfu=f"{mfu:.1%}", refresh=False)
            if metrics and (self.step % cfg.log_every == 0 or self.step == 1):
                metrics.log(self.step, train_loss=loss, lr=self.scheduler.get_last_lr()[0], tokens_per_s=tok_s,
                            mfu=mfu, grad_norm=self._last_grad_norm)
            if (cfg.eval_every and self.step % cfg.eval_every == 0) or self.step == cfg.max_steps:
                last_val = self.evaluate()
                improved = last_val < self.best_val
                self.best_val = min(self.best_val, last_val)
                if metrics:
                    metrics.log(self.step, val_loss=last_val, best_val_loss=self.best_val)
                bar.write(f"step {self.step}: val loss {last_val:.4f} (best {self.best_val:.4f})")
                self.save_checkpoint(best=improved)
        bar.close()
        if metrics:
            metrics.close()
            plot_loss(self.run_dir)
        return {"step": self.step, "val_loss": last_val, "best_val_loss": self.best_val, "run_dir": str(self.run_dir)}

    def train_step(self) -> float:
        """One optimizer step over grad_accum micro-batches; returns the mean loss over all processes."""
        cfg = self.config
        micro_batches = self.train_loader.next_step()
        total = 0.0
        for i, batch in enumerate(micro_batches):
            with gradient_sync(self.train_model, sync=i == len(micro_batches) - 1), self._autocast():
                _, loss = self.train_model(**self._inputs(batch))
                loss = loss / len(micro_batches)
            loss.backward()
            total += loss.item()
        self._last_grad_norm = None
        if cfg.optim.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            self._last_grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return mean_across(total, self.dist, self.device)

    def _inputs(self, batch: tuple[torch.Tensor, torch.Tensor] | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's keyword inputs on the device: CLM windows are (x, y); other objectives give dicts."""
        if not isinstance(batch, dict):
            batch = {"idx": batch[0], "targets": batch[1]}
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean validation loss over eval_batches fixed batches (the same windows at every evaluation)."""
        self.train_model.eval()
        self.val_loader.generator.manual_seed(self.config.seed + 1)
        losses = []
        for batch in self.val_loader.next_step():
            with self._autocast():
                _, loss = self.train_model(**self._inputs(batch))
            losses.append(loss.item())
        self.train_model.train()
        return mean_across(sum(losses) / len(losses), self.dist, self.device)

    # ------------------------------------------------------------------------------------------- state

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(self.config, self.run_dir / "config.yaml")
        write_json(self.run_dir / "data_meta.json", {**self.data_meta, "path": str(self.config.data)})
        tokenizer = _tokenizer_file(Path(self.config.data), self.data_meta)
        if tokenizer is not None:  # a copy makes the run self-contained for `roots generate` and serving
            shutil.copyfile(tokenizer, self.run_dir / "tokenizer.json")
        write_run_record(self.run_dir, "train", self.config, world_size=self.dist.world_size,
                         device=str(self.device), autocast_dtype=str(self.dtype),
                         parameters=self.model.num_params(), resumed_at_step=self.step)

    def _rng_state(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state().tolist()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device).tolist()
        return state

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
            path = ckpt.save_checkpoint(self.ckpt_dir, self.step, model_state, optim, state, self.config)
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
        model_state = load_file(str(path / "model.safetensors"))
        if self.config.model.tie_embeddings:
            model_state["lm_head.weight"] = model_state["transformer.wte.weight"]
        optim = torch.load(path / "optimizer.pt", weights_only=True)
        set_state_dict(self.model, self.optimizer, model_state_dict=model_state,
                       optim_state_dict=optim["optimizer"], options=StateDictOptions(full_state_dict=True))
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
    from roots.tokenizer.tokenizer import Tokenizer
    from roots.train.objectives import SpecialIds

    path = _tokenizer_file(data_dir, meta)
    return SpecialIds.from_tokenizer(Tokenizer.load(path.parent)) if path is not None else None


def _progress(initial: int, total: int, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(initial=initial, total=total, desc="train", unit="step", disable=disable, dynamic_ncols=True)


def _resolve_config(config: TrainConfig | None, model: torch.nn.Module | None,
                    dataset: str | os.PathLike | None, fields: dict[str, Any]) -> TrainConfig:
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(fields) - valid
    if unknown:
        raise TypeError(f"Trainer got unknown option(s) {sorted(unknown)}; TrainConfig fields: {sorted(valid)}")
    if model is not None:
        if not hasattr(model, "config"):
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
