"""User mistakes and OS errors through the CLI: one line saying what, where and what to do; rc 2 for usage,
1 for runtime; `--debug` / ROOTS_DEBUG=1 adds the traceback."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roots.cli import main

DOC = '{"id": "a", "text": "A plain English paragraph that says enough words to be a document of its own."}\n'


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def jsonl(tmp_path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text(DOC, encoding="utf-8")
    return path


@pytest.fixture
def run(shards, tmp_path, tiny_config) -> Path:
    """A finished tiny training run (two checkpoints) with its tokenizer, as `roots train` leaves one."""
    from roots.tokenizer.tokenizer import Tokenizer
    from roots.train.trainer import Trainer

    Trainer(tiny_config(shards, tmp_path / "run", max_steps=4, eval_every=2)).fit()
    Tokenizer.train(["a tiny corpus of words for a tokenizer"] * 20, "bpe", vocab_size=64).save(tmp_path / "tok")
    shutil.copyfile(tmp_path / "tok" / "tokenizer.json", tmp_path / "run" / "tokenizer.json")
    return tmp_path / "run"


def _curate(jsonl: Path, output: Path | str) -> list[str]:
    return ["curate", "--recipe", "extract", "--input", str(jsonl), "--output", str(output)]


@pytest.mark.parametrize("below", ["", "sub"])
def test_output_is_a_file(jsonl, tmp_path, capsys, below):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    assert main(_curate(jsonl, blocker / below if below else blocker)) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("roots curate: error:") and str(blocker) in line and "not a folder" in line


def test_train_out_dir_is_a_file(shards, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main(["train", "--data", str(shards), "--out-dir", str(blocker), "--max-steps", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(blocker) in line and "choose another path" in line


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(jsonl, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(_curate(jsonl, locked / "out")) == 1
    finally:
        locked.chmod(0o755)
    line = _one_line(capsys.readouterr().err)
    assert "permission denied" in line and str(locked) in line


def test_permission_denied_names_the_path(jsonl, tmp_path, capsys, monkeypatch):
    """The same error, injected where the output folder is made (root cannot be denied for real)."""
    import roots.data.pipeline as pipeline

    target = tmp_path / "out"

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(pipeline.Path, "mkdir", denied)
    assert main(_curate(jsonl, target)) == 1
    line = _one_line(capsys.readouterr().err)
    assert "permission denied" in line and str(target) in line and "chmod" in line


def test_disk_full_during_curate(jsonl, tmp_path, capsys, monkeypatch):
    from roots.data import writers

    def full(self, doc):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # a write to an open file names no path

    monkeypatch.setattr(writers.ShardWriter, "write", full)
    assert main(_curate(jsonl, tmp_path / "out")) == 1
    line = _one_line(capsys.readouterr().err)
    assert "no space left" in line and str(tmp_path / "out") in line and "rerun" in line


def test_disk_full_during_train(shards, tmp_path, capsys, monkeypatch):
    from roots.train import checkpoint

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, "save_weights", full)
    out = tmp_path / "run"
    argv = ["train", "--data", str(shards), "--out-dir", str(out), "--max-steps", "1", "--batch-size", "2",
            "--block-size", "16", "--model.n-layer", "1", "--model.n-embd", "32", "--model.n-head", "2",
            "--eval-batches", "1", "--tensorboard", "false"]
    assert main(argv) == 1
    captured = capsys.readouterr().err.splitlines()
    errors = [line for line in captured if "error:" in line or "Traceback" in line]
    assert len(errors) == 1 and "no space left" in errors[0] and str(out) in errors[0]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "roots.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_truncated_weights_in_generate_and_serve(run, capsys):
    weights = (run / "checkpoints" / "last").resolve() / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(100)
    checkpoint = str(weights.parent)
    for argv in (["generate", "--model", checkpoint, "--prompt", "hi"], ["serve", "--model", checkpoint]):
        assert main(argv) == 1
        line = _one_line(capsys.readouterr().err)
        assert str(weights) in line and "truncated or corrupt" in line and "another checkpoint" in line
    out = _cli("generate", "--model", checkpoint, "--prompt", "hi")  # the real process, as a user runs it
    assert out.returncode == 1
    assert str(weights) in _one_line(out.stderr)
    debug = _cli("generate", "--model", checkpoint, "--prompt", "hi", env={"ROOTS_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "SafetensorError" in debug.stderr


def test_debug_flag_shows_the_traceback(jsonl, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main([*_curate(jsonl, blocker), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "NotADirectoryError" in err
    assert err.strip().splitlines()[-1].startswith("roots curate: error:")


def test_a_bug_keeps_its_traceback():
    from roots.common.errors import explain

    assert explain(ZeroDivisionError("division by zero")) is None
    assert explain(KeyError("x")) is None
