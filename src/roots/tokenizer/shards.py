"""`roots tokenize`: a corpus -> binary token shards that training memory-maps.

Layout of SHARDS/:
  train_00000.bin, val_00000.bin, ...  raw little-endian uint16/uint32 token ids (no header), one pair
                                       per input unit (a corpus shard, or a group of text files); each
                                       document's tokens are followed by the EOS id
  meta.json                            format "roots.token_shards": dtype, vocab size, special ids,
                                       tokenizer hash, files + tokens + documents per split, source
  .done/00000.json                     completion marker of each unit (resume skips finished units)
  run.json                             the run record

Split modes: `documents` (default) sends a document to val when a hash of its id falls below
`val_fraction`, so the split never depends on order or on which other shards exist; `tail` puts the
last `val_fraction` of the token stream in val (nanoGPT's split for one-document corpora).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np

from roots.common.errors import UserError
from roots.common.io import file_size, read_json, write_json
from roots.common.records import artifact_meta, write_run_record
from roots.common.remote import RemotePath, redact
from roots.data.document import Document
from roots.tokenizer.sources import input_files, is_text_file, iter_documents, source_record
from roots.tokenizer.tokenizer import Tokenizer, tokenizer_sha256

FORMAT = "roots.token_shards"
FORMAT_VERSION = 1
SPLITS = ("train", "val")
TEXT_FILES_PER_UNIT = 1000  # one-document text files are grouped so a folder of many is not many shards


@dataclass
class TokenizeConfig:
    tokenizer: str = field(metadata={"help": "tokenizer folder written by `roots tokenizer train`"})
    input: str = field(metadata={"help": "curated corpus folder, corpus shard, or .txt files / folder"})
    output: str = field(metadata={"help": "folder for the token shards + meta.json"})
    val_fraction: float = field(default=0.01, metadata={"help": "fraction of documents (or tokens) for val"})
    val_split: Literal["documents", "tail"] = field(
        default="documents", metadata={"help": "documents: by a hash of each document id; tail: the last "
                                               "fraction of the token stream (nanoGPT, one-document corpora)"})
    split_seed: int = field(default=0, metadata={"help": "seed of the document hash (documents split)"})
    # measured on 2 shared cores (benchmarks/tokenize_throughput.py, 23 MB): Rust threads 1.24x faster
    workers: int = field(default=1, metadata={"help": "1: HF's Rust threads encode each batch (fastest on "
                                                      "2 cores); N > 1: N processes, one input shard each"})
    batch_size: int = field(default=1024, metadata={"help": "documents per encode_batch call"})

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.workers < 1 or self.batch_size < 1:
            raise UserError("--workers and --batch-size must be at least 1")


def shard_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 2**16 else "uint32"


def is_val_document(doc_id: str, fraction: float, seed: int = 0) -> bool:
    """The `documents` split: a 64-bit hash of the id, so a document's split never changes."""
    import xxhash

    return fraction > 0 and xxhash.xxh64_intdigest(doc_id.encode("utf-8"), seed=seed) < fraction * 2**64


# -------------------------------------------------------------------------------------- units of work


@dataclass
class Unit:
    """One resumable piece of work: a corpus shard or a group of text files; writes <split>_<index>.bin."""

    index: int
    files: list[Path]

    def fingerprint(self) -> list[list[Any]]:
        return [[redact(str(p)), file_size(p)] if isinstance(p, RemotePath) else [str(p.resolve()), p.stat().st_size]
                for p in self.files]

    def bin_path(self, out: Path, split: str) -> Path:
        return out / f"{split}_{self.index:05d}.bin"

    def marker_path(self, out: Path) -> Path:
        return out / ".done" / f"{self.index:05d}.json"


def plan_units(files: list[Path]) -> list[Unit]:
    units: list[Unit] = []
    texts: list[Path] = []
    for path in files:
        if is_text_file(path):
            texts.append(path)
            if len(texts) == TEXT_FILES_PER_UNIT:
                units.append(Unit(len(units), texts))
                texts = []
        else:
            if texts:
                units.append(Unit(len(units), texts))
                texts = []
            units.append(Unit(len(units), [path]))
    if texts:
        units.append(Unit(len(units), texts))
    return units


class SplitWriter:
    """Appends token arrays to a hidden temp file; `commit` renames it into place (or removes a stale one)."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.tokens = 0
        self.documents = 0
        self._file = None

    def write(self, tokens: np.ndarray, documents: int) -> None:
        if tokens.size == 0:
            return
        if self._file is None:
            self._file = open(self.tmp, "wb")  # noqa: SIM115 (closed in commit/abort)
        tokens.tofile(self._file)
        self.tokens += int(tokens.size)
        self.documents += documents

    def commit(self) -> None:
        if self._file is None:  # nothing in this split: no file (np.memmap cannot map an empty one)
            self.path.unlink(missing_ok=True)
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self.tmp.unlink(missing_ok=True)


def _batched(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def _encoded_batches(tok: Tokenizer, docs: Iterable[Document], batch_size: int
                     ) -> Iterator[tuple[list[Document], list[list[int]]]]:
    """(documents, token ids) in batches. HF encodes a batch in a helper thread (its Rust code releases
    the GIL) while this thread reads the next batch and the caller writes the previous one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for batch in _batched(docs, batch_size):
            future = pool.submit(tok.encode_batch, [doc.text for doc in batch])
            if pending:
                yield pending[0], pending[1].result()
            pending = (batch, future)
        if pending:
            yield pending[0], pending[1].result()


_TOKENIZERS: dict[tuple[str, str], Tokenizer] = {}


def _tokenizer(directory: str, sha256: str) -> Tokenizer:
    """One loaded tokenizer per process and tokenizer.json version (workers reuse it across units)."""
    if (directory, sha256) not in _TOKENIZERS:
        _TOKENIZERS[(directory, sha256)] = Tokenizer.load(directory)
    return _TOKENIZERS[(directory, sha256)]


@dataclass
class UnitJob:
    """Everything a (possibly separate) process needs to encode one unit."""

    unit: Unit
    out: Path
    tokenizer_dir: str
    marker: dict[str, Any]  # the settings part of the marker; counts are added when done
    val_fraction: float  # 0 in tail mode: every document goes to train first
    split_seed: int
    batch_size: int
    root: Path | None = None


def encode_unit(job: UnitJob, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Encode one unit's documents into its train/val .bin files, then write its completion marker."""
    tok = _tokenizer(job.tokenizer_dir, job.marker["tokenizer_sha256"])
    dtype = np.dtype(job.marker["dtype"])
    eos = tok.eos_id
    skipped: Counter = Counter()
    writers = {split: SplitWriter(job.unit.bin_path(job.out, split)) for split in SPLITS}
    try:
        docs = iter_documents(job.unit.files, skipped, job.root)
        for batch, encoded in _encoded_batches(tok, docs, job.batch_size):
            flat: dict[str, list[int]] = {"train": [], "val": []}
            counts = Counter()
            for doc, ids in zip(batch, encoded):
                split = "val" if is_val_document(doc.id, job.val_fraction, job.split_seed) else "train"
                flat[split].extend(ids)
                flat[split].append(eos)
                counts[split] += 1
            for split in SPLITS:
                writers[split].write(np.array(flat[split], dtype=dtype), counts[split])
            if progress:
                progress(len(batch))
        for w in writers.values():
            w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    splits = {split: {"tokens": w.tokens, "documents": w.documents} for split, w in writers.items()}
    marker = {**job.marker, "index": job.unit.index, "splits": splits, "skipped": dict(skipped)}
    write_json(job.unit.marker_path(job.out), marker)
    return marker


def _encode_in_processes(jobs: list[UnitJob], workers: int) -> Iterator[dict[str, Any]]:
    """Encode units in `workers` forked processes, yielding each marker as its unit finishes."""
    import multiprocessing

    # each process owns a core, so HF's thread pool would only oversubscribe it; setting this before
    # the fork also tells HF that its pool is deliberately off in the children (no fork warning)
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(encode_unit, job) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if previous is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = previous


# ------------------------------------------------------------------------------------------ tail split


def split_tail(out: Path, units: list[Unit], markers: list[dict[str, Any]], fraction: float, eos: int,
               dtype: np.dtype) -> list[dict[str, dict[str, int]]]:
    """Move the last `fraction` of the token stream into val files, as nanoGPT's `data[int(n*0.9):]`.

    Idempotent: each unit's tokens are train_i ++ val_i, re-cut only where the cut is not yet in place,
    so a crash midway is repaired by running again. Returns per-unit {split: {tokens, documents}}.
    """
    sizes = [m["splits"]["train"]["tokens"] + m["splits"]["val"]["tokens"] for m in markers]
    # the cut ignores the stream's final EOS, so a one-document corpus splits exactly as nanoGPT's text does
    boundary = int((sum(sizes) - 1) * (1 - fraction)) if fraction > 0 else sum(sizes)
    counts = []
    start = 0
    for unit, marker, size in zip(units, markers, sizes):
        head = min(max(boundary - start, 0), size)
        start += size
        paths = {s: unit.bin_path(out, s) for s in SPLITS}
        have = {s: p.stat().st_size // dtype.itemsize if p.exists() else 0 for s, p in paths.items()}
        if have["train"] == head and have["val"] == size - head:  # already cut here
            if head in (0, size):
                docs = marker["splits"]["train"]["documents"] + marker["splits"]["val"]["documents"]
                counts.append({"train": {"tokens": head, "documents": docs if head else 0},
                               "val": {"tokens": size - head, "documents": 0 if head else docs}})
                continue
            parts = {s: np.fromfile(paths[s], dtype=dtype) for s in SPLITS}
        else:
            # train_i holds the whole unit until its cut is done (val_i may be a leftover of a crash)
            tokens = (np.fromfile(paths["train"], dtype=dtype) if have["train"] == size else
                      np.concatenate([np.fromfile(paths[s], dtype=dtype) for s in SPLITS if have[s]]))
            parts = {"train": tokens[:head], "val": tokens[head:]}
            for split in ("val", "train"):  # val first: train_i stays whole until val_i is safe
                writer = SplitWriter(paths[split])
                writer.write(parts[split], 0)
                writer.commit()
        counts.append({s: {"tokens": int(parts[s].size), "documents": int(np.count_nonzero(parts[s] == eos))}
                       for s in SPLITS})
    return counts


# ------------------------------------------------------------------------------------------------ run


def tokenize(config: TokenizeConfig) -> dict[str, Any]:
    """Encode `config.input` into shards under `config.output`, resuming finished units; returns meta."""
    from tqdm import tqdm

    start = time.time()
    out = Path(config.output)
    tok = Tokenizer.load(config.tokenizer)
    if tok.eos_id is None:
        raise UserError(f"tokenizer {config.tokenizer} has no EOS token to separate documents")
    files = input_files(config.input)
    root = Path(config.input) if Path(config.input).is_dir() else None
    units = plan_units(files)
    dtype = shard_dtype(tok.vocab_size)
    settings = {"tokenizer_sha256": tokenizer_sha256(config.tokenizer), "dtype": dtype,
                "val_split": config.val_split, "val_fraction": config.val_fraction,
                "split_seed": config.split_seed}
    tail = config.val_split == "tail"
    jobs, markers = [], {}
    for unit in units:
        marker_path = unit.marker_path(out)
        marker = read_json(marker_path) if marker_path.exists() else None
        settings_now = {**settings, "files": unit.fingerprint()}
        if marker and all(marker.get(k) == v for k, v in settings_now.items()):
            markers[unit.index] = marker
        else:
            jobs.append(UnitJob(unit, out, str(Path(config.tokenizer).resolve()), settings_now,
                                0.0 if tail else config.val_fraction, config.split_seed,
                                config.batch_size, root))
    out.mkdir(parents=True, exist_ok=True)
    with tqdm(desc="tokenize", unit="doc", dynamic_ncols=True, disable=None) as bar:
        if config.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                markers[job.unit.index] = encode_unit(job, progress=bar.update)
        else:
            for marker in _encode_in_processes(jobs, config.workers):
                markers[marker["index"]] = marker
                bar.update(sum(s["documents"] for s in marker["splits"].values()))

    ordered = [markers[u.index] for u in units]
    if tail:
        counts = split_tail(out, units, ordered, config.val_fraction, tok.eos_id, np.dtype(dtype))
    else:
        counts = [m["splits"] for m in ordered]
    skipped: Counter = Counter()
    for m in ordered:
        skipped.update(m["skipped"])
    if not any(c[s]["documents"] or c[s]["tokens"] for c in counts for s in SPLITS):
        raise UserError(f"no documents to tokenize in {config.input} (skipped: {dict(skipped) or 'none'})")
    splits = {}
    for split in SPLITS:
        splits[split] = {
            "files": [u.bin_path(out, split).name for u, c in zip(units, counts) if c[split]["tokens"]],
            "tokens": sum(c[split]["tokens"] for c in counts),
            "documents": sum(c[split]["documents"] for c in counts),
        }
    meta = artifact_meta(
        FORMAT, FORMAT_VERSION, dtype=dtype, vocab_size=tok.vocab_size, eos_id=tok.eos_id,
        bos_id=tok.bos_id, pad_id=tok.pad_id,
        special_ids={role: tok.token_to_id(t) for role, t in tok.special_tokens.items()}, tokenizer_dir=str(Path(config.tokenizer).resolve()),
        tokenizer_kind=tok.kind, tokenizer_sha256=settings["tokenizer_sha256"],
        split={"mode": config.val_split, "val_fraction": config.val_fraction, "seed": config.split_seed},
        splits=splits, skipped=dict(skipped), source=source_record(config.input),
    )
    write_json(out / "meta.json", meta)
    write_run_record(out, "tokenize", config, seconds=round(time.time() - start, 2),
                     units=len(units), units_resumed=len(units) - len(jobs))
    return meta


def run(config: TokenizeConfig) -> int:
    meta = tokenize(config)
    train, val = meta["splits"]["train"], meta["splits"]["val"]
    skipped = f"; skipped {meta['skipped']}" if meta["skipped"] else ""
    print(f"tokenized {train['documents'] + val['documents']} documents into {train['tokens']:,} train + "
          f"{val['tokens']:,} val tokens ({meta['dtype']}, {len(train['files']) + len(val['files'])} files) "
          f"-> {config.output}/meta.json{skipped}")
    return 0
