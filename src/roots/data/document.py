"""The unit of curation: one document with its text and metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def position_key(file_index: int, record_index: int) -> int:
    """(input file index, record index) as one uint64; ordered as the positions are."""
    return (file_index << 32) | record_index


@dataclass
class Document:
    """A document flowing through a curation pipeline.

    `metadata` holds what readers and steps learn about it (url, date, lang, lang_score, source, ...).
    `cache` holds per-text analyses (words, lines, n-gram counts) that several filters share; it is
    keyed by the text it was computed for, so a step that edits `text` invalidates it automatically.
    `position` is where the run read it: (input file index, record index), unique within the run.
    Steps that match documents across the corpus (dedup) key their decisions on it, never on `id`:
    ids come from the data and may repeat (two files numbered 0..99, a copy of a WARC file).
    """

    text: str
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    position: tuple[int, int] | None = field(default=None, repr=False, compare=False)

    @property
    def position_key(self) -> int:
        """`position` packed into one uint64 (file index in the high 32 bits), the key of dedup decisions."""
        if self.position is None:
            raise ValueError(f"document {self.id!r} has no position: read it with a Reader or "
                             "iter_shard(path, index=...) so that corpus-wide steps can find it")
        return position_key(*self.position)

    def cached(self, key: str, compute):
        """Return `compute(text)` memoized for the current text under `key`."""
        entry = self.cache.get(key)
        if entry is not None and entry[0] is self.text:
            return entry[1]
        value = compute(self.text)
        self.cache[key] = (self.text, value)
        return value

    def to_record(self) -> dict[str, Any]:
        """The on-disk form: {id, text, metadata} (the cache is never written)."""
        return {"id": self.id, "text": self.text, "metadata": self.metadata}

    @classmethod
    def from_record(cls, record: dict[str, Any], default_id: str = "") -> Document:
        """A document from a `{"id", "text", "metadata"}` record; a record without an id gets `default_id`
        (ids are labels: documents are matched by position, never by id)."""
        metadata = record.get("metadata") or {}
        if isinstance(metadata, str):  # Parquet shards keep metadata as a JSON string
            metadata = json.loads(metadata)
        doc_id = record.get("id")
        return cls(text=record["text"], id=str(doc_id) if doc_id is not None else default_id,
                   metadata=dict(metadata))
