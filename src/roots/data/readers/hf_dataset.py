"""Hugging Face datasets saved to disk (`Dataset.save_to_disk` / `DatasetDict.save_to_disk`) as input.

`roots curate --input FOLDER` takes such a folder like any other input: one task per folder, every split
read from its memory-mapped Arrow files, with the reader's text/id field options.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roots.common.errors import UserError, missing_extra
from roots.data.document import Document
from roots.data.readers.base import Reader


def is_hf_dataset_dir(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    path = Path(path)
    return path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file())


def _load_from_disk(path: Path) -> Any:
    try:
        import datasets
    except ImportError as e:
        raise missing_extra("datasets", "hf") from e
    if not is_hf_dataset_dir(path):
        raise UserError(f"{path} is not a Hugging Face dataset folder (no state.json or dataset_dict.json); "
                        "write one with Dataset.save_to_disk")
    return datasets.load_from_disk(str(path))


def iter_hf_dataset(path: str | os.PathLike, text_field: str = "text", id_field: str = "id",
                    splits: list[str] | None = None, skipped: Counter | None = None,
                    batch_size: int = 1024) -> Iterator[Document]:
    """Documents of a `save_to_disk` folder, split by split (all splits of a DatasetDict by default).

    `metadata` is the record's `metadata` column when it is a mapping (roots' own layout), else every
    column but text and id. Records whose text is missing or not a string are counted in
    `skipped["bad_record"]`; records without an id get `<split>/<row>`.
    """
    path = Path(path)
    skipped = skipped if skipped is not None else Counter()
    loaded = _load_from_disk(path)
    parts = dict(loaded) if hasattr(loaded, "keys") else {"train": loaded}
    if splits:
        unknown = sorted(set(splits) - set(parts))
        if unknown:
            raise UserError(f"{path}: no split(s) {unknown}; it has {sorted(parts)}")
        parts = {name: parts[name] for name in splits}
    for split, ds in parts.items():
        if text_field not in ds.column_names:
            raise UserError(f"{path} [{split}]: no column {text_field!r} (columns: {ds.column_names}); "
                            "pass the text column's name")
        row = 0
        for batch in ds.iter(batch_size=batch_size):  # dict of columns, read from the memory-mapped Arrow
            for i in range(len(batch[text_field])):
                record = {k: v[i] for k, v in batch.items()}
                doc = _document(record, text_field, id_field, f"{split}/{row}")
                row += 1
                if doc is None:
                    skipped["bad_record"] += 1
                    continue
                yield doc


def _document(record: dict[str, Any], text_field: str, id_field: str, fallback_id: str) -> Document | None:
    text = record.get(text_field)
    if not isinstance(text, str):
        return None
    doc_id = record.get(id_field)
    metadata = record.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {k: v for k, v in record.items() if k not in (text_field, id_field)}
    return Document(text=text, id=str(doc_id) if doc_id is not None else fallback_id, metadata=dict(metadata))


class HFDatasetReader(Reader):
    """A `save_to_disk` folder (all splits); records without text are counted as `bad_record`."""

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        yield from iter_hf_dataset(path, self.options.text_field, self.options.id_field, skipped=skipped)
