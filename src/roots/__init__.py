"""roots: from raw web crawl to a served language model.

Stages hand each other versioned artifacts on disk:
curate -> tokenize -> train -> evaluate -> serve.

The public API is re-exported here lazily, so `import roots` stays fast and optional
dependencies (torch, trafilatura, ...) are only imported when their part is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    "Document": "roots.data.document:Document",
    "Step": "roots.data.base:Step",
    "Filter": "roots.data.base:Filter",
    "Tokenizer": "roots.tokenizer.tokenizer:Tokenizer",
    "ModelConfig": "roots.model.config:ModelConfig",
    "TransformerModel": "roots.model.gpt:TransformerModel",
    "TrainConfig": "roots.train.config:TrainConfig",
    "Trainer": "roots.train.trainer:Trainer",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'roots' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
