"""Plain-text files (.txt, .md, optionally .gz/.zst): one file is one document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from roots.common.io import open_binary
from roots.data.document import Document
from roots.data.readers.base import Reader


class TextReader(Reader):
    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        try:
            with open_binary(path) as f:
                raw = f.read(int(self.options.max_doc_mb * 1_000_000) * 4 + 1)
        except EOFError:
            skipped["gzip_truncated"] += 1
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped["undecodable_bytes"] += 1
            return
        yield Document(text=text, id=path.name, metadata={"source": path.name, "content_type": "text/plain"})
