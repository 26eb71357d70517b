"""Writers: Documents -> size-bounded shards, each written to a temporary file and renamed when complete.

JSONL.zst (default) holds one `{"id", "text", "metadata"}` object per line, readable by
`datasets.load_dataset("json", data_files=...)`; Parquet stores the same three columns with
`metadata` as a JSON string (so that shards with different metadata keys share one schema).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from roots.data.document import Document

Format = Literal["jsonl", "parquet"]
SUFFIX = {"jsonl": ".jsonl.zst", "parquet": ".parquet"}


class ShardWriter:
    """Writes shards `<dir>/<prefix>-<k:04d><suffix>`, starting a new one after `max_shard_bytes`
    of uncompressed text. A shard is visible under its final name only once it is complete."""

    def __init__(self, directory: str | os.PathLike, prefix: str, format: Format = "jsonl",
                 max_shard_bytes: int = 256 << 20):
        self.directory = Path(directory)
        self.prefix = prefix
        self.format = format
        self.max_shard_bytes = max_shard_bytes
        self.shards: list[dict[str, Any]] = []  # {"path", "docs", "chars"} of completed shards
        self._open: _JsonlZstShard | _ParquetShard | None = None

    def write(self, doc: Document) -> None:
        if self._open is None:
            path = self.directory / f"{self.prefix}-{len(self.shards):04d}{SUFFIX[self.format]}"
            self._open = (_JsonlZstShard if self.format == "jsonl" else _ParquetShard)(path)
        self._open.write(doc)
        if self._open.bytes >= self.max_shard_bytes:
            self._finish()

    def _finish(self) -> None:
        shard, self._open = self._open, None
        shard.close()
        self.shards.append({"path": str(shard.path), "docs": shard.docs, "chars": shard.chars})

    def close(self) -> list[dict[str, Any]]:
        if self._open is not None:
            self._finish()
        return self.shards

    def abort(self) -> None:
        """Remove the shard being written (after an error)."""
        if self._open is not None:
            self._open.abort()
            self._open = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Shard:
    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.docs = self.chars = self.bytes = 0

    def _count(self, doc: Document, nbytes: int) -> None:
        self.docs += 1
        self.chars += len(doc.text)
        self.bytes += nbytes

    def _publish(self) -> None:
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


class _JsonlZstShard(_Shard):
    def __init__(self, path: Path):
        import zstandard

        super().__init__(path)
        self._file = open(self.tmp, "wb")  # noqa: SIM115 (closed in close/abort)
        self._zst = zstandard.ZstdCompressor(level=3).stream_writer(self._file, closefd=False)

    def write(self, doc: Document) -> None:
        line = (json.dumps(doc.to_record(), ensure_ascii=False) + "\n").encode("utf-8", "replace")  # lone surrogates -> "?"
        self._zst.write(line)
        self._count(doc, len(line))

    def close(self) -> None:
        self._zst.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._publish()

    def abort(self) -> None:
        self._file.close()
        super().abort()


class _ParquetShard(_Shard):
    def __init__(self, path: Path):
        super().__init__(path)
        self._rows: dict[str, list[str]] = {"id": [], "text": [], "metadata": []}

    def write(self, doc: Document) -> None:
        metadata = json.dumps(doc.metadata, ensure_ascii=False)
        self._rows["id"].append(doc.id)
        self._rows["text"].append(doc.text)
        self._rows["metadata"].append(metadata)
        self._count(doc, len(doc.text) + len(metadata))

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(self._rows), self.tmp, compression="zstd", write_page_checksum=True)
        self._publish()
