"""`roots quickstart`: the whole job on a built-in corpus that works offline on any fresh machine.

The corpus is text that ships with Python itself: the interactive help topics (`pydoc_data.topics`) and
the docstrings of the standard library's modules (read from their source with `ast`, never imported).
Quickstart runs every stage over it: curate -> train a tokenizer -> tokenize -> train a small GPT ->
evaluate (bits per byte on held-out documents) -> generate samples -> report.html, and ends by printing
the command that serves the model. Every stage writes its usual artifact under OUT/, and a rerun resumes
(curation and tokenization skip finished work; training continues from its last checkpoint).
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
from roots.workflows import stages


@dataclass
class QuickstartConfig:
    """Build a small corpus from Python's own documentation and run it through the pipeline."""

    output: Path = field(default=Path("quickstart"), metadata={"help": "output folder"})
    workers: int = field(default=2, metadata={"help": "worker processes for curation"})
    corpus_files: int = field(default=4, metadata={"help": "JSONL files the corpus is split into"})
    max_modules: int = field(default=0, metadata={"help": "use at most this many stdlib modules (0: all)"})
    vocab_size: int = field(default=4096, metadata={"help": "byte-level BPE vocabulary"})
    model: str = field(default="gpt2-micro", metadata={"help": "model preset (see roots.model.config.PRESETS)"})
    block_size: int = field(default=128, metadata={"help": "training context in tokens"})
    batch_size: int = 16
    train_steps: int = field(default=1000, metadata={"help": "optimizer steps (the main time budget)"})
    lr: float = 2e-3
    eval_every: int = 250
    samples: int = field(default=3, metadata={"help": "sample generations in the report"})
    sample_tokens: int = 60


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
    out = config.output / "curated"
    stats = stages.curate("quickstart", [str(p) for p in state["corpus_files"]], out, config.workers)
    state["curated"] = out
    drops = {r: n for s in stats["steps"] for r, n in s["dropped"].items()}
    return (f"{stats['output']['docs']} of {stats['reader']['docs']} documents kept "
            f"({', '.join(f'{r}: {n}' for r, n in drops.items()) or 'none dropped'}) -> {out / 'data'}")


def stage_tokenizer(config: QuickstartConfig, state: dict[str, Any]) -> str:
    out = config.output / "tokenizer"
    tok = stages.train_tokenizer(state["curated"], out, config.vocab_size)
    state["tokenizer"] = out
    return f"byte-level BPE, {tok.vocab_size} tokens -> {out}"


def stage_tokenize(config: QuickstartConfig, state: dict[str, Any]) -> str:
    out = config.output / "shards"
    splits = stages.tokenize(state["tokenizer"], state["curated"], out)["splits"]
    state["shards"] = out
    return (f"{splits['train']['tokens']:,} train / {splits['val']['tokens']:,} val tokens "
            f"({splits['train']['documents']} / {splits['val']['documents']} documents) -> {out}")


def stage_train(config: QuickstartConfig, state: dict[str, Any]) -> str:
    out = config.output / "run"
    result, n_params = stages.train(state["shards"], out, config.model, config.block_size, config.batch_size,
                                    config.train_steps, config.lr, config.eval_every)
    state["run"] = out
    return (f"{config.model} ({n_params / 1e6:.2f}M parameters), {result['step']} steps, "
            f"best val loss {result['best_val_loss']:.3f} -> {out}")


def _val_documents(state: dict[str, Any], limit: int = 64) -> list[str]:
    """The held-out documents, as the tokenize stage split them."""
    from roots.data.corpus import iter_corpus
    from roots.tokenizer.shards import is_val_document

    return [d.text for d in iter_corpus(state["curated"]) if is_val_document(d.id, 0.1)][:limit]


def stage_evaluate(config: QuickstartConfig, state: dict[str, Any]) -> str:
    from roots.eval.perplexity import UNITS as PERPLEXITY_UNITS
    from roots.eval.report import write_report
    from roots.model.io import open_run

    loaded = open_run(state["run"], device="cpu")
    texts = _val_documents(state)
    metrics = stages.perplexity_on_texts(loaded, texts).to_dict()
    out = config.output / "eval"
    write_report(out, "perplexity", metrics, {"model": str(loaded.checkpoint), "documents": len(texts),
                                              "split": "val (10% of documents by id hash)"},
                 units=PERPLEXITY_UNITS)
    state["loaded"], state["eval"] = loaded, metrics
    return (f"held-out {len(texts)} documents: {metrics['bits_per_byte']:.3f} bits/byte, "
            f"{metrics['nats_per_token']:.3f} nats/token -> {out}")


PROMPTS = ["The json module", "def read_file(path):", "An exception is raised when"]


def stage_generate(config: QuickstartConfig, state: dict[str, Any]) -> str:
    state["samples"] = stages.samples(state["loaded"], PROMPTS[: config.samples], config.sample_tokens)
    with atomic_write(config.output / "samples.txt") as f:
        f.write("\n\n".join(f"{p}{c}" for p, c in state["samples"]) + "\n")
    return f"{len(state['samples'])} samples -> {config.output / 'samples.txt'}"


def stage_report(config: QuickstartConfig, state: dict[str, Any]) -> str:
    from roots.common.io import read_json
    from roots.train.metrics import read_metrics
    from roots.workflows.figures import loss_curves
    from roots.workflows.inspect import draw_attention
    from roots.workflows.report import Section, write_html_report

    out = config.output
    figures = out / "figures"
    stats = read_json(state["curated"] / "stats.json")
    funnel_rows = [[s["name"], s["docs_in"], s["docs_out"], ", ".join(f"{r}: {n}" for r, n in s["dropped"].items())]
                   for s in stats["steps"]]
    loss_png = loss_curves({config.model: read_metrics(state["run"] / "metrics.jsonl")}, figures / "loss.png")
    attn_png = draw_attention(state["loaded"], PROMPTS[0] + " encodes Python objects as JSON text.",
                              figures / "attention.png")
    metrics = state["eval"]
    sections = [
        Section("Data: curation funnel", [f"Recipe quickstart over {stats['reader']['docs']} documents."],
                tables=[(["step", "in", "out", "drops"], funnel_rows)],
                figures=[(state["curated"] / "funnel.png", "documents and characters kept after each step")]
                if (state["curated"] / "funnel.png").exists() else []),
        Section("Training", figures=[(loss_png, "train and validation loss (nats/token)")]),
        Section("Evaluation on held-out documents",
                tables=[(["metric", "value", "unit"],
                         [["bits per byte", metrics["bits_per_byte"], "bits/byte (tokenizer-independent)"],
                          ["loss", metrics["nats_per_token"], "nats/token"],
                          ["word perplexity", metrics["word_perplexity"], "per whitespace word"],
                          ["tokens scored", metrics["tokens"], "tokens"]])]),
        Section("Samples", ["temperature 0.8, top-k 50; the prompt is in bold."], samples=state["samples"]),
        Section("Attention", ["Which earlier tokens each head looks at, for every layer."],
                figures=[(attn_png, "attention maps, rows = layers, columns = heads")]),
        Section("Serve it", [f"roots serve --model {state['run']}"]),
    ]
    page = write_html_report(out / "report.html", "roots quickstart", sections,
                             subtitle="Python's own documentation, from raw text to a served model, offline.")
    return f"report -> {page}"


Stage = Callable[[QuickstartConfig, dict[str, Any]], str]
STAGES: list[tuple[str, Stage]] = [
    ("corpus", stage_corpus), ("curate", stage_curate), ("tokenizer", stage_tokenizer),
    ("tokenize", stage_tokenize), ("train", stage_train), ("evaluate", stage_evaluate),
    ("generate", stage_generate), ("report", stage_report),
]


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
    print(f"serve the model with:  roots serve --model {state['run']}")
    return 0
