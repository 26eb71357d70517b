"""Evaluation reports: REPORT.json (machine-readable) + REPORT.md (for people), units always stated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from roots.common.io import atomic_write, write_json
from roots.common.records import artifact_meta


def write_report(out: str | os.PathLike, kind: str, metrics: dict[str, Any], settings: dict[str, Any],
                 units: dict[str, str], extra_md: str = "") -> Path:
    """Write OUT/REPORT.json and OUT/REPORT.md; `units` maps each metric name to its unit."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "REPORT.json", {**artifact_meta("roots.eval_report", 1, kind=kind),
                                     "metrics": metrics, "units": units, "settings": settings})
    lines = [f"# {kind} evaluation", "", "| metric | value | unit |", "|---|---|---|"]
    for name, value in _flatten(metrics).items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"| {name} | {shown} | {units.get(name.split('.')[0], units.get(name, ''))} |")
    lines += ["", "## Settings", ""] + [f"- {k}: `{v}`" for k, v in settings.items()]
    if extra_md:
        lines += ["", extra_md]
    with atomic_write(out / "REPORT.md") as f:
        f.write("\n".join(lines) + "\n")
    return out / "REPORT.json"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, key + "."))
        elif not isinstance(v, list):
            flat[key] = v
    return flat
