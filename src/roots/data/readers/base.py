"""Reader base: turns one input file into Documents, counting every skipped record with its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from roots.data.document import Document


@dataclass
class ReaderOptions:
    """How to read inputs: field names for JSONL/Parquet and per-document guards."""

    text_field: str = field(default="text", metadata={"help": "JSONL/Parquet field holding the text"})
    id_field: str = field(default="id", metadata={"help": "JSONL/Parquet field holding the document id"})
    url_field: str = field(default="url", metadata={"help": "JSONL/Parquet field holding the URL"})
    html_field: str = field(default="", metadata={
        "help": "JSONL/Parquet field holding raw HTML (read instead of --reader.text-field; needs `extract`)"})
    max_doc_mb: float = field(default=10.0, metadata={
        "help": "documents larger than this are skipped (reason document_too_large)"})


class Reader:
    """One input format. Subclasses implement `_read`; `read` applies the checks every format shares."""

    def __init__(self, options: ReaderOptions | None = None):
        self.options = options or ReaderOptions()

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        raise NotImplementedError

    def read(self, path: Path, skipped: Counter, limit: int = 0, index: int = 0) -> Iterator[Document]:
        """Documents of `path` (at most `limit` when > 0); empty and oversized ones are counted in
        `skipped`, never yielded. Each gets `position = (index, k)`: `index` is the input file's place
        in the run, k counts the documents yielded."""
        max_chars = int(self.options.max_doc_mb * 1_000_000)
        n = 0
        for doc in self._read(path, skipped):
            if not doc.text.strip():
                skipped["empty_document"] += 1
                continue
            if len(doc.text) > max_chars:
                skipped["document_too_large"] += 1
                continue
            doc.metadata.setdefault("source", path.name)
            doc.position = (index, n)
            yield doc
            n += 1
            if limit and n >= limit:
                return
