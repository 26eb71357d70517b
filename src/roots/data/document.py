"""The unit of curation: one document with its text and metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    """A document flowing through a curation pipeline.

    `metadata` holds what readers and steps learn about it (url, date, lang, lang_score, source, ...).
    `cache` holds per-text analyses (words, lines, n-gram counts) that several filters share; it is
    keyed by the text it was computed for, so a step that edits `text` invalidates it automatically.
    """

    text: str
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
    def from_record(cls, record: dict[str, Any]) -> Document:
        metadata = record.get("metadata") or {}
        if isinstance(metadata, str):  # Parquet shards keep metadata as a JSON string
            metadata = json.loads(metadata)
        return cls(text=record["text"], id=str(record["id"]), metadata=dict(metadata))
