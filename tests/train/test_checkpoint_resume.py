"""Damaged checkpoints: `--resume auto` verifies each checkpoint's files against the sizes and checksums in its
state.json, falls back to the newest intact one (saying which it skipped and why) and resumes it bitwise;
it never restarts from step 0 while a checkpoint exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from roots.common.errors import UserError
from roots.train import checkpoint as ckpt
from roots.train.metrics import read_metrics
from roots.train.trainer import Trainer


def _losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "train_loss" in r}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / "step_12" / "model.safetensors"))


def _truncate(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


DAMAGE = {
    "model.safetensors": lambda c: _truncate(c / "step_8" / "model.safetensors"),
    "optimizer.pt": lambda c: _truncate(c / "step_8" / "optimizer.pt"),
    "state.json": lambda c: _truncate(c / "step_8" / "state.json"),
    "flipped byte": lambda c: (c / "step_8" / "optimizer.pt").write_bytes(
        (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:])((c / "step_8" / "optimizer.pt").read_bytes())),
    "dangling last": lambda c: shutil.rmtree(c / "step_8"),
}


def test_resume_falls_back_to_the_newest_intact_checkpoint_bitwise(shards, tmp_path, tiny_config, capsys):
    Trainer(tiny_config(shards, tmp_path / "full")).fit()
    Trainer(tiny_config(shards, tmp_path / "split")).fit(stop_at=8)  # checkpoints step_4, step_8; last -> 8
    state = ckpt.load_state(tmp_path / "split" / "checkpoints" / "step_8")
    assert set(state["files"]) == {"model.safetensors", "optimizer.pt", "config.yaml"}
    for name, damage in DAMAGE.items():
        run = tmp_path / name.replace(" ", "_")
        shutil.copytree(tmp_path / "split", run, symlinks=True)
        damage(run / "checkpoints")
        capsys.readouterr()
        trainer = Trainer(tiny_config(shards, run, resume="auto"))
        err = capsys.readouterr().err
        assert trainer.step == 4, name
        assert "skipping checkpoint" in err and "step_8" in err and "resuming from step_4" in err, (name, err)
        trainer.fit()
        assert _losses(run) == _losses(tmp_path / "full"), name
        full, resumed = _weights(tmp_path / "full"), _weights(run)
        assert all(torch.equal(full[k], resumed[k]) for k in full), name


def test_each_damage_is_named(shards, tmp_path, tiny_config):
    Trainer(tiny_config(shards, tmp_path / "run", max_steps=4)).fit()
    step = tmp_path / "run" / "checkpoints" / "step_4"
    assert ckpt.verify(step) is None
    _truncate(step / "optimizer.pt")
    assert "optimizer.pt has" in ckpt.verify(step)
    with pytest.raises(UserError, match=r"cannot resume from this checkpoint: optimizer\.pt has \d+ bytes"):
        Trainer(tiny_config(shards, tmp_path / "other", resume=str(step)))


def test_no_silent_restart_while_a_checkpoint_exists(shards, tmp_path, tiny_config):
    run = tmp_path / "run"
    Trainer(tiny_config(shards, run, max_steps=4)).fit()
    metrics = (run / "metrics.jsonl").read_bytes()
    _truncate(run / "checkpoints" / "step_4" / "model.safetensors")
    with pytest.raises(UserError, match="no intact checkpoint"):
        Trainer(tiny_config(shards, run, resume="auto"))
    shutil.rmtree(run / "checkpoints" / "step_4")  # only a dangling `last` (and `best`) left
    with pytest.raises(UserError, match="no intact checkpoint"):
        Trainer(tiny_config(shards, run, resume="auto"))
    for resume in ("none", "no"):
        with pytest.raises(UserError, match="already holds checkpoints"):
            Trainer(tiny_config(shards, run, resume=resume))
    assert (run / "metrics.jsonl").read_bytes() == metrics  # nothing was rewritten
    assert os.path.islink(run / "checkpoints" / "last")
    Trainer(tiny_config(shards, tmp_path / "new", max_steps=2, resume="none")).fit()  # a new out dir starts
