"""Reading roots' own corpus shards: the artifact `roots curate` writes and later stages read.

A corpus is a folder (or a single file) of shards: `*.jsonl.zst` (default), `*.jsonl`, `*.jsonl.gz`
or `*.parquet`, each record `{"id", "text", "metadata"}`. Curated outputs keep their shards in
`OUT/data/`; passing `OUT` itself works too. A corpus may be remote (`s3://bucket/out`, see docs/remote.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from roots.common.errors import UserError
from roots.common.io import is_remote, join, list_files, local_path
from roots.common.remote import RemotePath, redact
from roots.data.document import Document
from roots.data.readers.resilient import lines, parquet_batches

SHARD_SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".jsonl", ".parquet")


def _remote_corpus_files(url: str) -> list[RemotePath]:
    if url.endswith(SHARD_SUFFIXES):
        return [RemotePath(url)]
    files = list_files(join(url, "data")) or list_files(url)
    files = [f for f in files if f.endswith(SHARD_SUFFIXES) and not RemotePath(f).name.startswith(".")]
    if not files:
        raise UserError(f"no corpus shards ({', '.join(SHARD_SUFFIXES)}) under {redact(url)}")
    return [RemotePath(f) for f in files]


def corpus_files(path: str | os.PathLike) -> list[Path] | list[RemotePath]:
    """The shards of a corpus, sorted; a curate output folder resolves to its `data/` subfolder."""
    if is_remote(path):
        return _remote_corpus_files(str(path))
    path = Path(local_path(path))
    if path.is_file():
        return [path]
    if not path.exists():
        raise UserError(f"corpus not found: {path}")
    if (path / "data").is_dir():
        path = path / "data"
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SHARD_SUFFIXES)
                   and not p.name.startswith("."))
    if not files:
        raise UserError(f"no corpus shards ({', '.join(SHARD_SUFFIXES)}) under {path}")
    return files


def iter_shard(path: str | os.PathLike, skipped: Counter | None = None, index: int | None = None
               ) -> Iterator[Document]:
    """Documents of one shard. Undecodable or malformed records are counted in `skipped`, not fatal.

    With `index` (the shard's place in the list a corpus-wide step was prepared on), each document
    gets `position = (index, k)`, k counting the documents yielded: the same on every read of the shard.
    """
    docs = _iter_shard(RemotePath(str(path)) if is_remote(path) else Path(local_path(path)), skipped if skipped is not None else Counter())
    if index is None:
        yield from docs
        return
    for k, doc in enumerate(docs):
        doc.position = (index, k)
        yield doc


def _iter_shard(path: Path, skipped: Counter) -> Iterator[Document]:
    if path.name.endswith(".parquet"):
        records = (r for batch in parquet_batches(path, skipped) for r in batch.to_pylist())
        for row, record in enumerate(records):
            if not isinstance(record.get("text"), str):
                skipped["bad_record"] += 1
                continue
            yield Document.from_record(record, default_id=f"{path.name}/{row}")
        return
    for line_no, raw in enumerate(lines(path, skipped)):
        if not raw.strip():
            continue
        line = raw.decode("utf-8", errors="replace")
        try:
            record = json.loads(line)
        except ValueError:
            skipped["bad_json_line"] += 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            missing = isinstance(record, dict) and "text" not in record
            skipped["missing_field_text" if missing else "bad_record"] += 1
            continue
        if "\ufffd" in line and "\\ufffd" not in line:
            skipped["invalid_utf8_repaired"] += 1
        try:
            yield Document.from_record(record, default_id=f"{path.name}/{line_no}")
        except (ValueError, TypeError):  # metadata that is not an object
            skipped["bad_record"] += 1


def iter_corpus(path: str | os.PathLike, skipped: Counter | None = None) -> Iterator[Document]:
    """Every document of a corpus, shard by shard."""
    for shard in corpus_files(path):
        yield from iter_shard(shard, skipped)
