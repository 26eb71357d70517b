"""Pipeline steps: the base class owns iteration, counting, timing and rejects.

A step is a small dataclass (its fields are its parameters, as in a recipe YAML) with one method,
`process(doc)`, that returns None to keep the document or a snake_case drop reason
("gopher_short_doc"). Steps that edit documents (extraction, line-wise corrections, PII) change
`doc.text` / `doc.metadata` in place inside `process`. Everything else (counting documents and
characters in and out, drops by reason, time spent, writing rejected documents) happens here once.

Steps that must see the whole corpus before deciding (dedup, decontamination) set
`needs_corpus = True`: the executor first runs the steps before them over every input, then calls
`prepare(shards, work_dir, workers, executor)` with the intermediate shards, then streams the
documents through `process` as usual. `executor` is the run's executor (local processes or Ray): a
step maps its per-shard phases over `executor.imap` so that they run where the rest of the run does.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from roots.data.document import Document

if TYPE_CHECKING:
    from roots.data.executors import Executor

RejectSink = Callable[[Document, str], None]

_MAX_ERROR_SAMPLES = 5
_MAX_EXAMPLES_PER_REASON = 3  # dropped documents kept (truncated) in stats for the funnel report
_EXAMPLE_CHARS = 300


@dataclass
class StepStats:
    """Counters for one step; summed across workers and shards."""

    name: str
    docs_in: int = 0
    docs_out: int = 0
    chars_in: int = 0
    chars_out: int = 0
    time_s: float = 0.0
    dropped: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # a few messages of unexpected exceptions
    examples: dict[str, list[dict]] = field(default_factory=dict)  # reason -> a few dropped docs
    not_applied: str | None = None  # why an optional step with missing inputs did nothing (flagged everywhere)
    # documents in and out per identified language (metadata["lang"], once a langid step has set it)
    lang_in: Counter = field(default_factory=Counter)
    lang_out: Counter = field(default_factory=Counter)

    def count_lang(self, doc: Document, kept: bool) -> None:
        lang = doc.metadata.get("lang")
        if lang:
            self.lang_in[lang] += 1
            if kept:
                self.lang_out[lang] += 1

    def add_example(self, reason: str, doc: Document) -> None:
        kept = self.examples.setdefault(reason, [])
        if len(kept) < _MAX_EXAMPLES_PER_REASON:
            kept.append({"id": doc.id, "url": doc.metadata.get("url"), "text": doc.text[:_EXAMPLE_CHARS]})

    def merge(self, other: StepStats) -> StepStats:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.chars_in += other.chars_in
        self.chars_out += other.chars_out
        self.time_s += other.time_s
        self.not_applied = self.not_applied or other.not_applied
        self.dropped.update(other.dropped)
        self.lang_in.update(other.lang_in)
        self.lang_out.update(other.lang_out)
        self.errors = (self.errors + other.errors)[:_MAX_ERROR_SAMPLES]
        for reason, docs in other.examples.items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(docs[: _MAX_EXAMPLES_PER_REASON - len(kept)])
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "chars_in": self.chars_in,
            "chars_out": self.chars_out,
            "time_s": round(self.time_s, 4),
            "docs_per_s": round(self.docs_in / self.time_s, 1) if self.time_s > 0 else None,
            "dropped": dict(self.dropped.most_common()),
            "errors": self.errors,
            "examples": self.examples,
            "not_applied": self.not_applied,
            "by_lang": {lang: {"in": n, "out": self.lang_out[lang]} for lang, n in self.lang_in.most_common()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepStats:
        return cls(
            name=d["name"], docs_in=d["docs_in"], docs_out=d["docs_out"], chars_in=d["chars_in"],
            chars_out=d["chars_out"], time_s=d["time_s"], dropped=Counter(d.get("dropped", {})),
            errors=list(d.get("errors", [])), examples={k: list(v) for k, v in d.get("examples", {}).items()},
            not_applied=d.get("not_applied"),
            lang_in=Counter({k: v["in"] for k, v in d.get("by_lang", {}).items()}),
            lang_out=Counter({k: v["out"] for k, v in d.get("by_lang", {}).items()}),
        )


class Step:
    """Base class of every pipeline step (readers and writers excepted).

    Subclasses are `@dataclass`es, set `name` (the registry name, snake_case) and implement
    `process`. `setup` runs once per worker process before the first document (load models there,
    not in `__init__`, so steps stay cheap to build and to send to worker processes).
    """

    name: ClassVar[str] = "step"
    needs_corpus: ClassVar[bool] = False
    # set by the recipe (`optional: true` next to a step's parameters): with missing inputs the step
    # runs as a no-op flagged NOT APPLIED instead of failing; `not_applied` then holds why
    optional: bool = False
    not_applied: str | None = None

    def missing_inputs(self) -> str | None:
        """What the user must pass for this step to do its job (None when nothing is missing)."""
        return None

    def setup(self) -> None:
        """Load heavy resources (models, word lists). Called once per worker before `process`."""

    def lists(self) -> list[str]:
        """The published lists (roots.data.lists names) or list files this step uses, for run records."""
        return []

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1,
                executor: Executor | None = None) -> None:
        """For `needs_corpus` steps: build what `process` needs from the whole corpus (resumably).

        Per-shard work goes through `executor.imap` when an executor is given (None: `workers` local
        processes); what it writes under `work_dir` must be safe to write twice (tasks may be retried).
        """

    def process(self, doc: Document) -> str | None:
        """Return None to keep `doc` (possibly edited in place) or a snake_case reason to drop it."""
        raise NotImplementedError

    def run(self, docs: Iterable[Document], stats: StepStats, rejects: RejectSink | None = None
            ) -> Iterator[Document]:
        """Stream `docs` through `process`, counting everything into `stats`."""
        if self.not_applied:
            stats.not_applied = self.not_applied
            for doc in docs:
                stats.docs_in += 1
                stats.docs_out += 1
                stats.chars_in += len(doc.text)
                stats.chars_out += len(doc.text)
                stats.count_lang(doc, kept=True)
                yield doc
            return
        clock = time.perf_counter
        for doc in docs:
            stats.docs_in += 1
            stats.chars_in += len(doc.text)
            start = clock()
            try:
                reason = self.process(doc)
            except Exception as e:  # a bad document must never stop the run: count it with its cause
                reason = f"{self.name}_error"
                if len(stats.errors) < _MAX_ERROR_SAMPLES:
                    stats.errors.append(f"{doc.id}: {type(e).__name__}: {e}"[:500])
            stats.time_s += clock() - start
            stats.count_lang(doc, kept=reason is None)
            if reason is not None:
                stats.dropped[reason] += 1
                stats.add_example(reason, doc)
                if rejects is not None:
                    rejects(doc, reason)
                continue
            stats.docs_out += 1
            stats.chars_out += len(doc.text)
            yield doc


class Filter(Step):
    """A step that only decides keep/drop and never edits the document.

    Implement `filter(doc) -> str | None`; `process` forwards to it. Keeping the two names apart
    documents intent: a Filter's output text is always its input text.
    """

    def filter(self, doc: Document) -> str | None:
        raise NotImplementedError

    def process(self, doc: Document) -> str | None:
        return self.filter(doc)
