"""`roots quickstart`: the whole job on a built-in corpus that works offline on any fresh machine.

The corpus is text that ships with Python itself: the interactive help topics (`pydoc_data.topics`) and
the docstrings of the standard library's modules (read from their source with `ast`, never imported).
Quickstart runs a list of stages over it; later stages (tokenize, train, evaluate, generate) append
themselves to `STAGES`.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.io import atomic_write
from roots.common.records import write_run_record


@dataclass
class QuickstartConfig:
    """Build a small corpus from Python's own documentation and run it through the pipeline."""

    output: Path = field(default=Path("quickstart"), metadata={"help": "output folder"})
    workers: int = field(default=2, metadata={"help": "worker processes for curation"})
    corpus_files: int = field(default=4, metadata={"help": "JSONL files the corpus is split into"})
    max_modules: int = field(default=0, metadata={"help": "use at most this many stdlib modules (0: all)"})


# ------------------------------------------------------------------------------------- the corpus


def pydoc_topics() -> Iterator[dict[str, Any]]:
    """The interpreter's help topics (`help('FORMATTING')` etc.), one document each."""
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield {"id": f"pydoc/{name}", "text": topics[name].strip(), "url": f"pydoc:{name}"}


def _module_text(name: str) -> str | None:
    """Module docstring followed by the docstrings of its public classes and functions."""
    try:
        spec = importlib.util.find_spec(name)  # top-level names only: nothing is executed
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    parts = [ast.get_docstring(tree) or ""]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            doc = ast.get_docstring(node)
            if doc:
                parts.append(f"{node.name}\n{doc}")
    text = "\n\n".join(p for p in parts if p).strip()
    return text or None


def stdlib_docstrings(max_modules: int = 0) -> Iterator[dict[str, Any]]:
    names = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in ("antigravity", "this"))
    n = 0
    for name in names:
        text = _module_text(name)
        if text is None:
            continue
        yield {"id": f"stdlib/{name}", "text": text, "url": f"https://docs.python.org/3/library/{name}.html"}
        n += 1
        if max_modules and n >= max_modules:
            return


def build_corpus(folder: Path, n_files: int = 4, max_modules: int = 0) -> list[Path]:
    """Write the built-in corpus as `n_files` JSONL files (round-robin) and return their paths."""
    records = [*pydoc_topics(), *stdlib_docstrings(max_modules)]
    paths = [folder / f"python_docs_{k:02d}.jsonl" for k in range(max(1, n_files))]
    for k, path in enumerate(paths):
        with atomic_write(path) as f:
            for record in records[k :: len(paths)]:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return paths


# ------------------------------------------------------------------------------------- the stages


def stage_corpus(config: QuickstartConfig, state: dict[str, Any]) -> str:
    paths = build_corpus(config.output / "corpus", config.corpus_files, config.max_modules)
    state["corpus_files"] = paths
    n = sum(1 for p in paths for _ in p.open(encoding="utf-8"))
    return f"{n} documents from Python's help topics and stdlib docstrings -> {config.output / 'corpus'}"


def stage_curate(config: QuickstartConfig, state: dict[str, Any]) -> str:
    from roots.data.pipeline import CurateConfig, run_curation

    out = config.output / "curated"
    stats = run_curation(CurateConfig(recipe="quickstart", input=[str(p) for p in state["corpus_files"]],
                                      output=out, workers=config.workers))
    state["curated"] = out
    drops = {r: n for s in stats["steps"] for r, n in s["dropped"].items()}
    return (f"{stats['output']['docs']} of {stats['reader']['docs']} documents kept "
            f"({', '.join(f'{r}: {n}' for r, n in drops.items()) or 'none dropped'}) -> {out / 'data'}")


Stage = Callable[[QuickstartConfig, dict[str, Any]], str]
STAGES: list[tuple[str, Stage]] = [("corpus", stage_corpus), ("curate", stage_curate)]


def quickstart(config: QuickstartConfig) -> int:
    """Run every stage in order, printing one summary line per stage."""
    config.output.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {}
    summary = {}
    start = time.perf_counter()
    for name, stage in STAGES:
        t0 = time.perf_counter()
        line = stage(config, state)
        summary[name] = line
        print(f"[{name}] {line} ({time.perf_counter() - t0:.1f}s)")
    write_run_record(config.output, "quickstart", config, stages=summary)
    print(f"quickstart: {len(STAGES)} stages done in {time.perf_counter() - start:.1f}s -> {config.output}")
    return 0
