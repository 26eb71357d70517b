"""Exact substring dedup with a suffix array (Lee et al. 2022; RefinedWeb's ExactSubstr-CUT).

The corpus becomes one sequence of units (words by default, or UTF-8 bytes), documents separated by
a reserved unit. From its suffix array and LCP array (pydivsufsort) the longest previous factor
LPF[p] = length of the longest prefix of the suffix at p that also starts at an earlier position.
Every span [p, p + LPF[p]) of >= `min_length` units therefore repeats something earlier in the
corpus: those spans are cut (the first occurrence stays), spans are clipped at document ends, and a
document left with fewer than `min_chars` characters is dropped.

Out of core: the corpus is processed in chunks of whole shards of at most `chunk_units` units
(about 13 bytes of memory per unit); repeats are found within a chunk, not across chunks.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import xxhash

from roots.common.errors import UserError, missing_extra
from roots.common.io import atomic_write, read_json, write_json
from roots.common.records import artifact_meta
from roots.data.base import Step
from roots.data.corpus import iter_shard
from roots.data.document import Document
from roots.data.executors import Executor

log = logging.getLogger(__name__)

Unit = Literal["words", "bytes", "tokens"]
_WORD = re.compile(r"\S+")
_WORD_SEP = np.uint32(2**32 - 1)  # word ids are hashes below this value
_BYTE_SEP = 0xFF  # never occurs in UTF-8
_FORMAT_VERSION = 2  # 2: cuts keyed by document position, not id


def units(text: str, unit: Unit, tokenizer: Any = None) -> tuple[np.ndarray, list[tuple[int, int]] | None]:
    """The unit sequence of a text, and for words / tokens each one's (start, end) character offsets."""
    if unit == "bytes":
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8), None
    if unit == "tokens":  # an HF `tokenizers.Tokenizer`; ids stay below the separator
        enc = tokenizer.encode(text, add_special_tokens=False)
        return np.minimum(np.array(enc.ids, dtype=np.uint32), _WORD_SEP - np.uint32(1)), list(enc.offsets)
    spans = [m.span() for m in _WORD.finditer(text)]
    h = xxhash.xxh32_intdigest
    ids = np.fromiter((h(text[a:b].encode("utf-8", "surrogatepass")) for a, b in spans), dtype=np.uint32, count=len(spans))
    return np.minimum(ids, _WORD_SEP - np.uint32(1)), spans


def repeated_spans(seq: np.ndarray, doc_starts: np.ndarray, min_length: int) -> np.ndarray:
    """(M, 3) int64 rows (doc, start, end) of merged spans, relative to their document, that repeat
    an earlier part of `seq`. `doc_starts` (n + 1,) are the documents' offsets in `seq` (its length last)."""
    try:
        import pydivsufsort
    except ImportError as e:
        raise missing_extra("pydivsufsort", "dedup") from e
    if len(seq) == 0:
        return np.zeros((0, 3), np.int64)
    sa = pydivsufsort.divsufsort(seq)
    lpf = pydivsufsort.longest_previous_factor(seq, sa, pydivsufsort.kasai(seq, sa))
    del sa
    starts = np.flatnonzero(lpf >= min_length)
    doc = np.searchsorted(doc_starts, starts, side="right") - 1
    ends = np.minimum(starts + lpf[starts], doc_starts[doc + 1] - 1)  # -1: the separator after each doc
    keep = ends - starts >= min_length
    starts, ends, doc = starts[keep], ends[keep], doc[keep]
    if len(starts) == 0:
        return np.zeros((0, 3), np.int64)
    # merge overlapping spans (sorted by start, never crossing documents): a new span begins where
    # the start passes every earlier end
    reach = np.maximum.accumulate(ends)
    new = np.concatenate([[True], starts[1:] > reach[:-1]])
    merged_start = starts[new]
    merged_end = np.maximum.reduceat(ends, np.flatnonzero(new))
    merged_doc = doc[new]
    base = doc_starts[merged_doc]
    return np.stack([merged_doc, merged_start - base, merged_end - base], axis=1).astype(np.int64)


def cut(text: str, spans: np.ndarray, unit: Unit, tokenizer: Any = None) -> str:
    """`text` without the (start, end) unit spans (sorted, disjoint)."""
    if unit == "bytes":
        data = text.encode("utf-8")
        pieces, pos = [], 0
        for a, b in spans:
            pieces.append(data[pos:a])
            pos = b
        pieces.append(data[pos:])
        return b"".join(pieces).decode("utf-8", errors="ignore")  # a cut inside a character drops it
    words = units(text, "tokens", tokenizer)[1] if unit == "tokens" else [m.span() for m in _WORD.finditer(text)]
    pieces, pos = [], 0
    for a, b in spans:
        pieces.append(text[pos:words[a][0]])
        pos = words[b - 1][1]
    pieces.append(text[pos:])
    return "".join(pieces)


def _chunk_job(args: tuple[SubstringDedup, list[tuple[int, Path]], Path]) -> None:
    """The repeated spans of one chunk of (index, shard), saved to `out` keyed by document position."""
    step, chunk_shards, out = args
    docs = [d for index, shard in chunk_shards for d in iter_shard(shard, index=index)]
    found = step.find(docs)
    ids = np.array([docs[i].position_key for i in found], dtype=np.uint64)
    spans = [found[i] for i in found]
    with atomic_write(out, "wb") as f:
        np.savez(f, ids=ids, counts=np.array([len(s) for s in spans], dtype=np.int64),
                 spans=np.concatenate(spans) if spans else np.zeros((0, 2), np.int64))


@dataclass
class SubstringDedup(Step):
    """Cut spans of >= `min_length` units seen earlier in the corpus; drop documents left too short.

    unit "tokens" counts the tokens of `tokenizer` (a tokenizer.json, HF tokenizers; RefinedWeb's "50
    tokens" with the paper's GPT-2 tokenizer), "bytes" UTF-8 bytes (ROOTS' 50 bytes), "words" whitespace
    words: the offline approximation of tokens when no tokenizer is at hand. Every word is at least one
    token, so 50 words span at least 50 tokens (about 65 GPT-2 tokens of English): words cut only longer
    repeats, a conservative approximation (min_length: 38 words is about 50 English GPT-2 tokens).
    """

    name: ClassVar[str] = "substring_dedup"
    needs_corpus: ClassVar[bool] = True
    min_length: int = 50
    unit: Unit = "words"
    min_chars: int = 20
    chunk_units: int = 1 << 26
    tokenizer: str | None = None  # unit tokens: a tokenizer.json (e.g. GPT-2's, as RefinedWeb counted)

    def __post_init__(self) -> None:
        if self.min_length < 1 or self.unit not in ("words", "bytes", "tokens"):
            raise UserError("substring_dedup: min_length must be >= 1 and unit one of words, bytes, tokens")
        if self.unit == "tokens" and not self.tokenizer:
            raise UserError("substring_dedup: unit tokens needs tokenizer=PATH (a tokenizer.json, e.g. GPT-2's); "
                            "without one, unit: words approximates it")
        if self.tokenizer and not Path(self.tokenizer).is_file():
            raise UserError(f"substring_dedup.tokenizer: not found: {self.tokenizer}")

    def _tok(self) -> Any:
        if self.unit != "tokens":
            return None
        if getattr(self, "_tokenizer", None) is None:
            try:
                from tokenizers import Tokenizer
            except ImportError as e:
                raise missing_extra("tokenizers", "tokenize") from e
            self._tokenizer = Tokenizer.from_file(str(self.tokenizer))
        return self._tokenizer

    def __getstate__(self) -> dict[str, Any]:  # the tokenizer is loaded again where the step runs
        return {k: v for k, v in self.__dict__.items() if k != "_tokenizer"}

    # ------------------------------------------------------------------ in memory
    def find(self, docs: list[Document]) -> dict[int, np.ndarray]:
        """Document index -> (k, 2) spans to cut, for one chunk of documents."""
        sep = _BYTE_SEP if self.unit == "bytes" else _WORD_SEP
        parts, starts, pos = [], [0], 0
        for d in docs:
            seq = units(d.text, self.unit, self._tok())[0]
            parts += [seq, np.array([sep], dtype=seq.dtype)]
            pos += len(seq) + 1
            starts.append(pos)
        if not parts:
            return {}
        seq = np.concatenate(parts)
        spans = repeated_spans(seq, np.array(starts, dtype=np.int64), self.min_length)
        if len(spans) == 0:
            return {}
        bounds = np.flatnonzero(np.diff(spans[:, 0])) + 1
        return {int(g[0, 0]): g[:, 1:] for g in np.split(spans, bounds)}

    def apply(self, doc: Document, spans: np.ndarray) -> str | None:
        doc.text = cut(doc.text, spans, self.unit, self._tok())
        return "substring_too_short" if len(doc.text.strip()) < self.min_chars else None

    # ------------------------------------------------------------------ on disk, resumable
    def _chunks(self, shards: list[Path], work_dir: Path) -> list[list[int]]:
        """Consecutive shards grouped to at most `chunk_units` units (a shard is never split)."""
        sizes_path = work_dir / "shard_units.json"
        if sizes_path.exists():
            sizes = read_json(sizes_path)
        else:
            sizes = [sum(len(d.text.encode()) if self.unit == "bytes" else len(d.text.split())
                         for d in iter_shard(s)) for s in shards]
            write_json(sizes_path, sizes)
        chunks: list[list[int]] = [[]]
        total = 0
        for i, n in enumerate(sizes):
            if chunks[-1] and total + n > self.chunk_units:
                chunks.append([])
                total = 0
            chunks[-1].append(i)
            total += n
        return chunks

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1,
                executor: Executor | None = None) -> None:
        from tqdm import tqdm

        work_dir = Path(work_dir)
        self._work_dir = work_dir
        fingerprint = {"params": {"min_length": self.min_length, "unit": self.unit,
                                  "chunk_units": self.chunk_units, "tokenizer": self.tokenizer}, "shards": [str(s) for s in shards]}
        meta_path = work_dir / "meta.json"
        meta = read_json(meta_path) if meta_path.exists() else None
        if meta is not None and ({k: meta.get(k) for k in fingerprint} != fingerprint
                                 or meta.get("format_version") != _FORMAT_VERSION):
            import shutil

            log.warning("%s: parameters or inputs changed since the last run; starting over", work_dir)
            shutil.rmtree(work_dir)
        if (work_dir / "result" / "summary.json").exists():
            return
        work_dir.mkdir(parents=True, exist_ok=True)
        write_json(meta_path, {**artifact_meta("roots.dedup.substring_dedup", _FORMAT_VERSION), **fingerprint})
        chunks = self._chunks(shards, work_dir)
        jobs = [(self, [(i, shards[i]) for i in members], work_dir / "chunks" / f"{c:05d}.npz")
                for c, members in enumerate(chunks)]
        jobs = [job for job in jobs if not job[-1].exists()]
        if executor is not None:  # chunks are independent: one task each, wherever the run's tasks go
            results = executor.imap(_chunk_job, jobs)
        else:
            results = map(_chunk_job, jobs)
        for _ in tqdm(results, total=len(jobs), desc="substring_dedup: suffix arrays", unit="chunk"):
            pass
        self._write_result(work_dir, len(chunks))

    def _write_result(self, work_dir: Path, n_chunks: int) -> None:
        parts = [np.load(work_dir / "chunks" / f"{c:05d}.npz") for c in range(n_chunks)]
        ids = np.concatenate([p["ids"] for p in parts])
        counts = np.concatenate([p["counts"] for p in parts])
        spans = np.concatenate([p["spans"] for p in parts])
        order = np.argsort(ids, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(counts)])
        spans = np.concatenate([spans[offsets[i]:offsets[i + 1]] for i in order]) if len(order) else spans
        folder = work_dir / "result"
        with atomic_write(folder / "cuts.npz", "wb") as f:
            np.savez(f, ids=ids[order], offsets=np.concatenate([[0], np.cumsum(counts[order])]), spans=spans)
        write_json(folder / "summary.json", {"chunks": n_chunks, "docs_with_cuts": len(ids),
                                             "units_cut": int((spans[:, 1] - spans[:, 0]).sum())})

    def setup(self) -> None:
        folder = getattr(self, "_work_dir", None)
        if folder is None or not (Path(folder) / "result" / "summary.json").exists():
            raise UserError("step substring_dedup needs the whole corpus: run prepare() before process()")
        self._cuts = dict(np.load(Path(folder) / "result" / "cuts.npz"))

    def process(self, doc: Document) -> str | None:
        if not hasattr(self, "_cuts"):
            self.setup()
        ids = self._cuts["ids"]
        h = np.uint64(doc.position_key)
        i = int(np.searchsorted(ids, h))
        if i == len(ids) or ids[i] != h:
            return None
        lo, hi = self._cuts["offsets"][i], self._cuts["offsets"][i + 1]
        return self.apply(doc, self._cuts["spans"][lo:hi])


def substring_dedup(texts: list[str], **params) -> list[str | None]:
    """The texts after substring dedup, None where dropped (in-memory, same code as the step)."""
    step = SubstringDedup(**params)
    docs = [Document(t, str(i)) for i, t in enumerate(texts)]
    found = step.find(docs)
    out: list[str | None] = []
    for i, d in enumerate(docs):
        out.append(d.text if i not in found or step.apply(d, found[i]) is None else None)
    return out
