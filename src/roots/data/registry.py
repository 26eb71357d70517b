"""Every step a recipe can name: registry name -> "module:Class" (imported only when used).

Adding a step = one file (the step class), one line here, one test.
"""

from __future__ import annotations

import importlib
from typing import Any

from roots.common.config import from_dict
from roots.common.errors import UserError
from roots.data.base import Step

STEPS: dict[str, str] = {
    "exact_dedup": "roots.data.dedup.exact:ExactDedup",
    "url_dedup": "roots.data.dedup.exact:UrlDedup",
    "minhash_dedup": "roots.data.dedup.minhash:MinHashDedup",
    "simhash_dedup": "roots.data.dedup.simhash:SimHashDedup",
    "substring_dedup": "roots.data.dedup.substring:SubstringDedup",
    "decontaminate": "roots.data.dedup.decontaminate:Decontaminate",
}


def step_class(name: str) -> type[Step]:
    target = STEPS.get(name)
    if target is None:
        raise UserError(f"unknown step {name!r}; known steps: {', '.join(sorted(STEPS))}")
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def build_step(name: str, params: dict[str, Any] | None = None) -> Step:
    """Instantiate a registered step from its recipe parameters (validated against its fields)."""
    cls = step_class(name)
    return from_dict(cls, params or {}, where=f"step {name}")
