"""Plain-text files (.txt, .md, optionally .gz/.zst): one file is one document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from roots.data.document import Document
from roots.data.readers.base import Reader
from roots.data.readers.resilient import pieces


class TextReader(Reader):
    """One file, one document. A damaged compressed file loses its document, counted by the damage."""

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        budget = int(self.options.max_doc_mb * 1_000_000) * 4 + 1  # enough to tell document_too_large
        parts, size = [], 0
        for piece in pieces(path, skipped):
            if piece is None:  # damaged: the text is incomplete (the loss is counted by `pieces`)
                return
            parts.append(piece)
            size += len(piece)
            if size >= budget:
                break
        try:
            text = b"".join(parts)[:budget].decode("utf-8")
        except UnicodeDecodeError:
            skipped["undecodable_bytes"] += 1
            return
        yield Document(text=text, id=path.name, metadata={"source": path.name, "content_type": "text/plain"})
