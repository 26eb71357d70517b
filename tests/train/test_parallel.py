"""Two CPU processes (gloo) with DDP or FSDP give the single-process losses for the same global batch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from roots.train.metrics import read_metrics
from roots.train.trainer import Trainer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, config) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch.distributed as dist

    try:
        Trainer(config).fit()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _losses(run_dir) -> list[float]:
    return [r["train_loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "train_loss" in r]


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one(shards, tmp_path, tiny_config, strategy):
    # global batch 8 windows per step: one process x 2 micro-batches of 4 == two processes x 1 micro-batch
    common = dict(max_steps=6, eval_every=3, model=tiny_config(shards, tmp_path).model.replace(dropout=0.0))
    single = tiny_config(shards, tmp_path / "single", grad_accum=2, **common)
    Trainer(single).fit()
    multi = tiny_config(shards, tmp_path / strategy, grad_accum=1, parallel=strategy, **common)
    mp.spawn(_worker, args=(2, _free_port(), multi), nprocs=2, join=True)
    torch.testing.assert_close(torch.tensor(_losses(tmp_path / strategy)),
                               torch.tensor(_losses(tmp_path / "single")), rtol=1e-5, atol=1e-5)
    # the checkpoint holds full (unsharded) weights that a single process loads
    from roots.model.io import load_model

    model = load_model(tmp_path / strategy / "checkpoints" / "last")
    assert model.transformer.wte.weight.shape == (64, 32)
