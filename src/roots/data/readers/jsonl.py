"""JSON Lines (.jsonl, .json, .gz, .zst) and Parquet readers with configurable field names.

With `html_field` set, the record's raw HTML becomes the document text (content_type text/html) for
the `extract` step, as in the html_extraction benchmark files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roots.data.document import Document
from roots.data.readers.base import Reader
from roots.data.readers.resilient import lines, parquet_batches


class _RecordReader(Reader):
    """Shared record -> Document mapping of JSONL and Parquet."""

    def _document(self, record: Any, path: Path, position: int, skipped: Counter) -> Document | None:
        o = self.options
        if not isinstance(record, dict):
            skipped["bad_record"] += 1
            return None
        field = o.html_field or o.text_field
        text = record.get(field)
        if text is None:
            skipped[f"missing_field_{field}"] += 1
            return None
        if not isinstance(text, str):
            skipped["bad_record"] += 1
            return None
        metadata = dict(record["metadata"]) if isinstance(record.get("metadata"), dict) else {}
        if record.get(o.url_field) is not None:
            metadata["url"] = str(record[o.url_field])
        metadata["source"] = path.name
        if o.html_field:
            metadata["content_type"] = "text/html"
        doc_id = record.get(o.id_field)
        return Document(text=text, id=str(doc_id) if doc_id is not None else f"{path.name}/{position}",
                        metadata=metadata)


class JsonlReader(_RecordReader):
    """One JSON object per line; bad lines, undecodable bytes and damaged gzip/zstd data are counted."""

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        for line_no, raw in enumerate(lines(path, skipped)):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                skipped["undecodable_bytes"] += 1
                continue
            except ValueError:
                skipped["bad_json_line"] += 1
                continue
            doc = self._document(record, path, line_no, skipped)
            if doc is not None:
                yield doc


class ParquetReader(_RecordReader):
    """Parquet files, row group by row group: a damaged row group costs its rows (counted), not the file."""

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        position = 0
        for batch in parquet_batches(path, skipped):
            for record in batch.to_pylist():
                doc = self._document(record, path, position, skipped)
                position += 1
                if doc is not None:
                    yield doc
