"""Reading line-aligned hypothesis / reference / label files (plain, .gz, .zst, or JSONL fields)."""

from __future__ import annotations

import json
import os
from typing import Any

from roots.common.errors import UserError
from roots.common.io import open_text


def _field(record: dict[str, Any], dotted: str, where: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"{where}: no field {dotted!r} (missing {part!r})")
        value = value[part]
    return value


def read_lines(path: str | os.PathLike, field: str | None = None) -> list[str]:
    """One segment per line; with `field`, one JSON record per line and the (dotted) field's value.

    Line files keep empty lines (an empty hypothesis is a valid, zero-scoring segment). Invalid UTF-8
    becomes U+FFFD rather than stopping the evaluation.
    """
    if not os.path.exists(path):
        raise UserError(f"file not found: {path}")
    with open_text(path) as f:
        if field is None:
            return [line.rstrip("\n").rstrip("\r") for line in f]
        values = []
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{n}: not valid JSON ({e.msg})") from e
            values.append(str(_field(record, field, f"{path}:{n}")))
        return values


def check_aligned(hyps: list[str], refs: list[list[str]], names: list[str]) -> None:
    for name, ref in zip(names, refs):
        if len(ref) != len(hyps):
            raise UserError(f"{name} has {len(ref)} segments but the hypotheses have {len(hyps)}; "
                            "files must be line-aligned")
