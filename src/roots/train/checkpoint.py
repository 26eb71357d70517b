"""Checkpoint folders: written to a temporary folder and renamed into place, with `last`/`best` pointers.

    RUN/checkpoints/step_N/  model.safetensors  optimizer.pt  state.json  config.yaml
    RUN/checkpoints/last -> step_N      RUN/checkpoints/best -> step_M      (relative symlinks)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from roots.common.config import save_yaml
from roots.common.errors import UserError
from roots.common.io import read_json, write_json
from roots.model.io import WEIGHTS, find_checkpoint, save_weights

__all__ = ["find_checkpoint", "load_state", "prune", "save_checkpoint", "set_pointer"]

FORMAT = "roots.checkpoint"
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
    write_json(tmp / "state.json", {"format": FORMAT, "format_version": 1, **state})
    save_yaml(config, tmp / "config.yaml")
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


def load_state(checkpoint: Path) -> dict[str, Any]:
    state = read_json(checkpoint / "state.json")
    if state.get("format") != FORMAT or state.get("format_version") != 1:
        raise UserError(f"{checkpoint}/state.json: not a {FORMAT} v1 checkpoint")
    return state
