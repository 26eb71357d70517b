"""C4's dedup: "we discarded all but one of any three-sentence span occurring more than once in the data
set" (Raffel et al. 2020 §2.2), corpus-wide, then the 3-sentence minimum again.

Sentences are C4's (roots.data.filters.c4: a run of . ! ? ends one; a line without one is one), compared
after normalization (lowercase, no punctuation, whitespace collapsed: dedup.text "full"). Every window of
`n_sentences` consecutive sentences of a document is hashed; in corpus order the first occurrence of a
window stays, and every later occurrence (in another document or the same one) removes its sentences, as
datatrove's SentenceDedup does. A document left with fewer than `min_sentences` sentences is dropped.

`prepare` hashes each shard (one task each, on the run's executor), then sorts the (hash, position) pairs of
the whole corpus in memory: 16 bytes per window, about 1.6 GB for 100M sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from roots.common.errors import UserError
from roots.common.io import atomic_write, read_json, write_json
from roots.common.records import artifact_meta
from roots.data.base import Step
from roots.data.corpus import iter_shard
from roots.data.dedup.text import hash_str, words
from roots.data.document import Document
from roots.data.executors import Executor
from roots.data.filters.c4 import SENTENCE_END_RE

_LINE_RE = re.compile(r"[^\n]+")


def sentence_spans(text: str) -> list[tuple[int, int, int]]:
    """(line number, start, end) character spans of the sentences of `text`, line by line."""
    spans = []
    for n, line in enumerate(_LINE_RE.finditer(text)):
        start, line_end = line.span()
        for m in SENTENCE_END_RE.finditer(text, start, line_end):
            if text[start:m.end()].strip():
                spans.append((n, start, m.end()))
            start = m.end()
        if text[start:line_end].strip():
            spans.append((n, start, line_end))
    return spans


def window_hashes(text: str, n: int) -> np.ndarray:
    """uint64 hash of every window of `n` consecutive normalized sentences (index = first sentence)."""
    keys = [" ".join(words(text[a:b], "full")) for _, a, b in sentence_spans(text)]
    if len(keys) < n:
        return np.zeros(0, np.uint64)
    return np.fromiter((hash_str("\n".join(keys[i:i + n])) for i in range(len(keys) - n + 1)),
                       dtype=np.uint64, count=len(keys) - n + 1)


def _shard_job(args: tuple[int, int, Path, Path]) -> None:
    n, index, shard, out = args
    ids, hashes, starts = [], [], []
    for doc in iter_shard(shard, index=index):
        h = window_hashes(doc.text, n)
        ids.append(doc.position_key)
        hashes.append(h)
        starts.append(np.arange(len(h), dtype=np.uint32))
    counts = np.array([len(h) for h in hashes], dtype=np.int64)
    with atomic_write(out, "wb") as f:
        np.savez(f, ids=np.array(ids, dtype=np.uint64), counts=counts,
                 hashes=np.concatenate(hashes) if hashes else np.zeros(0, np.uint64),
                 starts=np.concatenate(starts) if starts else np.zeros(0, np.uint32))


@dataclass
class SentenceDedup(Step):
    """Keep one copy of every span of `n_sentences` sentences (corpus-wide); drop documents left with
    fewer than `min_sentences` sentences ("sentence_dedup_too_few_sentences")."""

    name: ClassVar[str] = "sentence_dedup"
    needs_corpus: ClassVar[bool] = True
    n_sentences: int = 3
    min_sentences: int = 3

    def __post_init__(self) -> None:
        if self.n_sentences < 1 or self.min_sentences < 0:
            raise UserError("sentence_dedup: n_sentences must be >= 1 and min_sentences >= 0")

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1,
                executor: Executor | None = None) -> None:
        work_dir = Path(work_dir)
        self._work_dir = work_dir
        fingerprint = {"n_sentences": self.n_sentences, "shards": [str(s) for s in shards]}
        meta_path = work_dir / "meta.json"
        if meta_path.exists() and read_json(meta_path).get("fingerprint") == fingerprint \
                and (work_dir / "result.npz").exists():
            return
        work_dir.mkdir(parents=True, exist_ok=True)
        jobs = [(self.n_sentences, i, s, work_dir / "shards" / f"{i:05d}.npz") for i, s in enumerate(shards)]
        todo = [j for j in jobs if not j[3].exists()]
        for _ in (executor.imap(_shard_job, todo) if executor is not None else map(_shard_job, todo)):
            pass
        parts = [np.load(j[3]) for j in jobs]
        counts = np.concatenate([p["counts"] for p in parts]) if parts else np.zeros(0, np.int64)
        doc_ids = np.concatenate([p["ids"] for p in parts]) if parts else np.zeros(0, np.uint64)
        hashes = np.concatenate([p["hashes"] for p in parts]) if parts else np.zeros(0, np.uint64)
        starts = np.concatenate([p["starts"] for p in parts]) if parts else np.zeros(0, np.uint32)
        owner = np.repeat(doc_ids, counts)  # the position key of every window's document, in corpus order
        order = np.argsort(hashes, kind="stable")  # equal hashes keep corpus order: the first stays
        dup = np.zeros(len(hashes), dtype=bool)
        dup[order[1:]] = hashes[order[1:]] == hashes[order[:-1]]
        dup_ids, dup_starts = owner[dup], starts[dup]
        by_doc = np.lexsort((dup_starts, dup_ids))
        with atomic_write(work_dir / "result.npz", "wb") as f:
            np.savez(f, ids=dup_ids[by_doc], starts=dup_starts[by_doc])
        write_json(meta_path, {**artifact_meta("roots.dedup.sentence_dedup", 1), "fingerprint": fingerprint,
                               "windows": len(hashes), "duplicate_windows": int(dup.sum())})

    def setup(self) -> None:
        folder = getattr(self, "_work_dir", None)
        if folder is None or not (Path(folder) / "result.npz").exists():
            raise UserError("step sentence_dedup needs the whole corpus: run prepare() before process()")
        result = np.load(Path(folder) / "result.npz")
        self._ids, self._starts = result["ids"], result["starts"]

    def process(self, doc: Document) -> str | None:
        if not hasattr(self, "_ids"):
            self.setup()
        h = np.uint64(doc.position_key)
        lo, hi = np.searchsorted(self._ids, h), np.searchsorted(self._ids, h, side="right")
        spans = sentence_spans(doc.text)
        if hi > lo:
            drop = np.zeros(len(spans), dtype=bool)
            for s in self._starts[lo:hi]:
                drop[int(s):int(s) + self.n_sentences] = True
            lines: dict[int, list[str]] = {}
            for (line, a, b), dropped in zip(spans, drop):
                if not dropped:
                    lines.setdefault(line, []).append(doc.text[a:b].strip())
            doc.text = "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))
            spans = [s for s, dropped in zip(spans, drop) if not dropped]
        return "sentence_dedup_too_few_sentences" if len(spans) < self.min_sentences else None


def sentence_dedup(texts: list[str], n_sentences: int = 3, min_sentences: int = 3) -> list[str | None]:
    """In memory: each text after C4's span dedup, or None where it was dropped (tests, benchmarks)."""
    step = SentenceDedup(n_sentences, min_sentences)
    hashes = [window_hashes(t, n_sentences) for t in texts]
    seen: set[int] = set()
    out = []
    for i, (text, h) in enumerate(zip(texts, hashes)):
        dup_starts = [k for k, x in enumerate(h.tolist()) if x in seen or seen.add(x)]
        doc = Document(text, str(i), position=(0, i))
        step._ids = np.full(len(dup_starts), doc.position_key, np.uint64)
        step._starts = np.array(dup_starts, dtype=np.uint32)
        out.append(None if step.process(doc) else doc.text)
    return out
