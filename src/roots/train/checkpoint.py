"""Checkpoint folders: written to a temporary folder and renamed into place, with `last`/`best` pointers.

    RUN/checkpoints/step_N/  model.safetensors  optimizer.pt  state.json  config.yaml
    RUN/checkpoints/last -> step_N      RUN/checkpoints/best -> step_M      (relative symlinks)

state.json records the size and xxh3-128 of every other file, so a resume can tell an intact checkpoint
from one truncated or overwritten after the fact (`verify`) and fall back to the newest intact one
(`newest_intact`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
import xxhash

from roots.common.config import save_yaml
from roots.common.errors import UserError
from roots.common.io import read_json, write_json
from roots.model.io import WEIGHTS, find_checkpoint, save_weights

__all__ = ["candidates", "find_checkpoint", "load_state", "newest_intact", "prune", "save_checkpoint",
           "set_pointer", "verify"]

FORMAT = "roots.checkpoint"
FORMAT_VERSION = 2  # 2: state.json lists every file's size and xxh3-128; 1 (no checksums) still loads
_STEP_DIR = re.compile(r"^step_(\d+)$")


def save_checkpoint(root: Path, step: int, model_state: dict[str, torch.Tensor], optim_state: dict[str, Any],
                    state: dict[str, Any], config: Any) -> Path:
    """Write checkpoint `step_<step>` atomically and point `last` at it."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step}"
    tmp = root / f".tmp.step_{step}"
    shutil.rmtree(tmp, ignore_errors=True)  # debris of a run killed mid-write
    tmp.mkdir()
    save_weights(model_state, config.model, tmp / WEIGHTS)
    torch.save(optim_state, tmp / "optimizer.pt")
    save_yaml(config, tmp / "config.yaml")
    files = {p.name: {"bytes": p.stat().st_size, "xxh3_128": file_hash(p)} for p in sorted(tmp.iterdir())}
    write_json(tmp / "state.json", {"format": FORMAT, "format_version": FORMAT_VERSION, **state, "files": files})
    if final.exists():  # the same step again after a resume: replace it
        old = root / f".old.step_{step}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    set_pointer(root, "last", final.name)
    return final


def set_pointer(root: Path, name: str, target: str) -> None:
    """Atomically (re)point the symlink root/name at root/target."""
    tmp = root / f".tmp.{name}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, root / name)


def prune(root: Path, keep: int) -> None:
    """Delete all but the newest `keep` step folders, never the one `best` or `last` points to."""
    protected = {(root / p).resolve() for p in ("best", "last") if (root / p).exists()}
    steps = sorted((int(m.group(1)), d) for d in root.iterdir() if (m := _STEP_DIR.match(d.name)))
    for _, d in steps[: max(0, len(steps) - keep)]:
        if d.resolve() not in protected:
            shutil.rmtree(d)


def file_hash(path: Path) -> str:
    """xxh3-128 of a file's bytes, hex (several GB/s: checking a large checkpoint costs little)."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 23):
            h.update(chunk)
    return h.hexdigest()


def _read_state(checkpoint: Path) -> dict[str, Any]:
    """state.json, or ValueError saying why it is not a usable one."""
    path = checkpoint / "state.json"
    try:
        state = read_json(path)
    except FileNotFoundError:
        raise ValueError("state.json is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"state.json is truncated or corrupt ({e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("format_version") not in (1, 2):
        raise ValueError(f"state.json is not a {FORMAT} v1/v2 checkpoint")
    return state


def verify(checkpoint: Path) -> str | None:
    """Why `checkpoint` cannot be resumed from (missing, truncated or altered files), or None if intact."""
    if not checkpoint.is_dir():
        return "missing" if not checkpoint.is_symlink() else f"points to missing {os.readlink(checkpoint)}"
    try:
        state = _read_state(checkpoint)
    except ValueError as e:
        return str(e)
    files = state.get("files") or {name: {} for name in (WEIGHTS, "optimizer.pt")}  # v1: existence only
    for name, want in files.items():
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if "bytes" in want and size != want["bytes"]:
            return f"{name} has {size} bytes, {want['bytes']} were written"
        if "xxh3_128" in want and file_hash(path) != want["xxh3_128"]:
            return f"{name} does not match its checksum"
    return None


def candidates(root: Path) -> list[Path]:
    """The step folders under root, newest (highest step) first."""
    if not root.is_dir():
        return []
    steps = [(int(m.group(1)), d) for d in root.iterdir() if (m := _STEP_DIR.match(d.name)) and d.is_dir()]
    return [d for _, d in sorted(steps, reverse=True)]


def newest_intact(root: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint under root that verifies, and the newer ones skipped with the reason."""
    skipped = []
    last = root / "last"
    if last.is_symlink() and not last.exists():
        skipped.append((last, f"points to missing {os.readlink(last)}"))
    for checkpoint in candidates(root):
        reason = verify(checkpoint)
        if reason is None:
            return checkpoint, skipped
        skipped.append((checkpoint, reason))
    return None, skipped


def has_checkpoints(root: Path) -> bool:
    """Whether root holds any checkpoint, intact or not (a dangling `last` counts)."""
    return bool(candidates(root)) or (root / "last").is_symlink() or (root / "best").is_symlink()


def load_state(checkpoint: Path, verified: bool = False) -> dict[str, Any]:
    """The state of a checkpoint, which must verify (UserError with the reason otherwise); `verified`: the
    caller just did."""
    reason = None if verified else verify(checkpoint)
    if reason is not None:
        raise UserError(f"{checkpoint}: cannot resume from this checkpoint: {reason}; give another one to "
                        f"--resume, or --resume auto to take the newest intact one")
    return _read_state(checkpoint)
