"""Where tokenizer text comes from: curated corpus shards and plain text files.

An input is a curated output (its `data/*.jsonl.zst`, `.jsonl`, `.jsonl.gz`, `.parquet` shards), a
plain text file (`.txt`, `.txt.gz`, `.txt.zst`: one document per file), or a folder of either.
Bad input is counted in a `skipped` Counter by reason, never fatal: empty documents are dropped,
invalid UTF-8 is repaired to U+FFFD and counted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import is_remote, open_binary, read_json
from roots.common.remote import RemotePath, redact
from roots.data.corpus import SHARD_SUFFIXES, corpus_files, iter_shard
from roots.data.document import Document

TEXT_SUFFIXES = (".txt", ".txt.gz", ".txt.zst")

PathLike = str | os.PathLike


def is_text_file(path: Path) -> bool:
    return path.name.endswith(TEXT_SUFFIXES)


def input_files(inputs: PathLike | Iterable[PathLike]) -> list[Path]:
    """The corpus shards and text files of one or more inputs, each folder's files sorted."""
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files: list[Path | RemotePath] = []
    for raw in paths:
        if is_remote(raw):  # a curated corpus (or one shard) in a bucket: its shards, streamed
            files.extend(corpus_files(str(raw)))
            continue
        path = Path(raw)
        if path.is_file():
            files.append(path)
            continue
        if not path.exists():
            raise UserError(f"input not found: {path}")
        if (path / "data").is_dir():  # a curate output folder
            path = path / "data"
        found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.name.endswith(SHARD_SUFFIXES + TEXT_SUFFIXES))
        if not found:
            raise UserError(f"no corpus shards ({', '.join(SHARD_SUFFIXES)}) or text files "
                            f"({', '.join(TEXT_SUFFIXES)}) under {path}")
        files.extend(found)
    if not files:
        raise UserError("no input given")
    return files


def read_text_file(path: Path, skipped: Counter) -> str:
    with open_binary(path) as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        skipped["invalid_utf8_repaired"] += 1
        return data.decode("utf-8", errors="replace")


def iter_documents(files: Iterable[Path], skipped: Counter, root: Path | None = None) -> Iterator[Document]:
    """Non-empty documents of `files` in order; a text file's id is its path (relative to `root`)."""
    for path in files:
        if is_text_file(path):
            text = read_text_file(path, skipped)
            doc_id = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
            docs: Iterable[Document] = [Document(text=text, id=doc_id)]
        else:
            docs = iter_shard(path, skipped)
        for doc in docs:
            if not doc.text.strip():
                skipped["empty_document"] += 1
                continue
            yield doc


def iter_texts(inputs: PathLike | Iterable[PathLike], skipped: Counter, max_bytes: int = 0,
               stats: Counter | None = None) -> Iterator[str]:
    """Document texts of `inputs`, stopping after about `max_bytes` of UTF-8 (0 = all)."""
    stats = stats if stats is not None else Counter()
    for doc in iter_documents(input_files(inputs), skipped):
        stats["documents"] += 1
        stats["bytes"] += len(doc.text.encode("utf-8"))
        yield doc.text
        if max_bytes and stats["bytes"] >= max_bytes:
            return


def source_record(inputs: PathLike | Iterable[PathLike]) -> dict[str, Any]:
    """The input path(s) and, for a curated corpus, the run.json that made it."""
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    record: dict[str, Any] = {"path": [redact(str(p)) if is_remote(p) else str(Path(p).resolve()) for p in paths]}
    if len(paths) == 1 and not is_remote(paths[0]):
        record["path"] = record["path"][0]
        path = Path(paths[0])
        folder = path.parent if path.name == "data" else path  # OUT/data -> OUT/run.json
        if path.is_dir() and (folder / "run.json").is_file():
            record["run"] = read_json(folder / "run.json")
    return record
