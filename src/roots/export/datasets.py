"""Curated corpora and Hugging Face `datasets`, both ways.

Loading a roots corpus with `datasets` needs no conversion: the shards are JSON Lines (zstd-compressed by
default), which `datasets`' json builder reads directly (it decompresses .zst with `zstandard`)::

    from datasets import load_dataset
    ds = load_dataset("json", data_files="OUT/data/*.jsonl.zst", split="train")
    ds[0]  # {"id": ..., "text": ..., "metadata": {"url": ..., "lang": ..., ...}}

`hf_data_files(OUT)` builds that `data_files` argument for a curate output folder (parquet shards use
`load_dataset("parquet", ...)`).

The other way, `iter_hf_dataset` reads a folder written by `Dataset.save_to_disk` /
`DatasetDict.save_to_disk` as roots `Document`s (it lives in `roots.data.readers.hf_dataset`, so
`roots curate --input SAVED_FOLDER` reads such folders directly). `iter_any_corpus` picks the right reader for a path.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

from roots.common.errors import UserError
from roots.data.corpus import corpus_files, iter_corpus
from roots.data.document import Document
from roots.data.readers.hf_dataset import is_hf_dataset_dir, iter_hf_dataset

__all__ = ["hf_data_files", "is_hf_dataset_dir", "iter_any_corpus", "iter_hf_dataset"]


def hf_data_files(path: str | os.PathLike) -> tuple[str, list[str]]:
    """(`datasets` builder name, data_files) that load the curated corpus at `path`."""
    files = corpus_files(path)
    builder = "parquet" if files[0].name.endswith(".parquet") else "json"
    if any(f.name.endswith(".parquet") != (builder == "parquet") for f in files):
        raise UserError(f"{path} mixes parquet and JSONL shards; load each kind separately")
    return builder, [str(f) for f in files]


def iter_any_corpus(path: str | os.PathLike, skipped: Counter | None = None) -> Iterator[Document]:
    """A roots corpus (shards) or a Hugging Face `save_to_disk` folder, whichever `path` is."""
    if is_hf_dataset_dir(path):
        yield from iter_hf_dataset(path, skipped=skipped)
    else:
        yield from iter_corpus(path, skipped)
