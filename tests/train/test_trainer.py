from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from roots.common.errors import UserError
from roots.common.io import current_umask
from roots.train.metrics import read_metrics
from roots.train.trainer import Trainer

GOLDEN = Path(__file__).parent.parent / "assets" / "golden" / "train_debug_losses.json"


def _losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "train_loss" in r}


def test_run_folder_and_loss_goes_down(shards, tmp_path, tiny_config):
    cfg = tiny_config(shards, tmp_path / "run", max_steps=40, eval_every=20, tensorboard=True)
    result = Trainer(cfg).fit()
    run = tmp_path / "run"
    for name in ("config.yaml", "run.json", "metrics.jsonl", "loss.png", "data_meta.json"):
        assert (run / name).exists(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    last = (run / "checkpoints" / "last").resolve()
    assert last.name == "step_40"
    assert {p.name for p in last.iterdir()} == {"model.safetensors", "optimizer.pt", "state.json", "config.yaml"}
    assert (run / "checkpoints" / "best" / "model.safetensors").exists()
    losses = _losses(run)
    assert losses[40] < losses[1] - 0.5
    mfus = [r["mfu"] for r in read_metrics(run / "metrics.jsonl") if "mfu" in r]
    assert len(mfus) == 40 and all(0 < m <= 1 for m in mfus)  # measured over training steps alone
    mode = 0o666 & ~current_umask()  # what open(path, "w") gives: others can read a model when umask lets them
    for path in run.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert result["best_val_loss"] <= result["val_loss"]


def test_exact_resume_is_bitwise(shards, tmp_path, tiny_config):
    """2N steps in one go == N steps, stop, resume, N more: the same losses, bit for bit."""
    Trainer(tiny_config(shards, tmp_path / "full")).fit()
    Trainer(tiny_config(shards, tmp_path / "split")).fit(stop_at=8)
    # metrics logged after the checkpoint (a run killed between checkpoints) are dropped on resume
    with open(tmp_path / "split" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 9, "train_loss": 123.0}) + "\n")
    resumed = Trainer(tiny_config(shards, tmp_path / "split", resume="auto"))
    assert resumed.step == 8
    resumed.fit()
    assert _losses(tmp_path / "split") == _losses(tmp_path / "full")
    full = torch.load(tmp_path / "full/checkpoints/last/optimizer.pt", weights_only=True)
    split = torch.load(tmp_path / "split/checkpoints/last/optimizer.pt", weights_only=True)
    for name, s in full["optimizer"]["state"].items():
        assert torch.equal(s["exp_avg"], split["optimizer"]["state"][name]["exp_avg"])


def test_resume_after_kill_9(shards, tmp_path, tiny_config):
    """A real `roots train` process killed with SIGKILL mid-run, then `--resume auto`."""
    cfg = tiny_config(shards, tmp_path / "run", max_steps=400, eval_every=10)
    from roots.common.config import save_yaml

    save_yaml(cfg, tmp_path / "cfg.yaml")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "roots.cli", "train", "--config", str(tmp_path / "cfg.yaml")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "run" / "checkpoints" / "last"
    deadline = time.time() + 60
    while not last.exists() or last.resolve().name == "step_10":
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = int(last.resolve().name.split("_")[1])
    assert killed_at < 400
    out = subprocess.run([*cmd, "--max-steps", "60", "--resume", "auto"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "roots train:" in out.stdout
    steps = [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "train_loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] >= 60


def test_golden_losses(shards, tmp_path, tiny_config):
    """A seeded debug run's losses, pinned: changes to the model or loop that move them are caught."""
    Trainer(tiny_config(shards, tmp_path / "run", max_steps=20, eval_every=0)).fit()
    losses = _losses(tmp_path / "run")
    if os.environ.get("ROOTS_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps({str(k): v for k, v in losses.items()}, indent=1) + "\n")
    golden = {int(k): v for k, v in json.loads(GOLDEN.read_text()).items()}
    assert golden.keys() == losses.keys()
    torch.testing.assert_close(torch.tensor(list(losses.values())), torch.tensor(list(golden.values())),
                               rtol=1e-4, atol=1e-4)


def test_refuses_to_overwrite_a_run(shards, tmp_path, tiny_config):
    Trainer(tiny_config(shards, tmp_path / "run", max_steps=4)).fit()
    with pytest.raises(UserError, match="--resume auto"):
        Trainer(tiny_config(shards, tmp_path / "run", resume="no"))


def test_bad_data_is_a_clear_error(shards, tmp_path, tiny_config):
    with pytest.raises(UserError, match=r"no meta\.json"):
        Trainer(tiny_config(tmp_path, tmp_path / "run"))
    with pytest.raises(UserError, match="smaller than the shards"):
        cfg = tiny_config(shards, tmp_path / "run")
        cfg.model.vocab_size = 10
        Trainer(cfg)
