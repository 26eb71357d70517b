"""HTML -> main text: trafilatura with FineWeb's precision-oriented settings, or resiliparse (faster)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from roots.data.base import Step
from roots.data.document import Document
from roots.data.timeout import DocumentTimeout, time_limit

_NEWLINE_RUNS = re.compile(r"\n{3,}")


@dataclass
class Extract(Step):
    """Replace the HTML of `text/html` documents by their main text; other documents pass unchanged.

    Drop reasons: `extract_timeout` (the page took longer than `timeout_s`), `extract_empty` (no main
    text found). The time limit is a SIGALRM, checked between Python bytecodes: a single long call into
    lxml can overrun it, which is why readers also cap the document size (`--reader.max-doc-mb`).
    """

    name: ClassVar[str] = "extract"

    backend: Literal["trafilatura", "resiliparse"] = "trafilatura"
    timeout_s: float = 5.0
    # trafilatura's knobs; each recipe states its paper's setting (defaults: FineWeb's)
    favor_precision: bool = True  # FineWeb's setting: less boilerplate, a little less recall
    include_comments: bool = False
    deduplicate: bool = True
    main_content: bool = True  # resiliparse: False keeps the whole page's text (closest to Common Crawl WET)

    def setup(self) -> None:
        self._source = None
        if self.backend == "trafilatura":
            import trafilatura  # noqa: F401 (import once per worker, not per document)
        else:
            import resiliparse.extract.html2text  # noqa: F401

    def extract(self, html: str) -> str:
        """Main text of `html`, newline runs collapsed to one blank line."""
        if self.backend == "trafilatura":
            import trafilatura

            text = trafilatura.extract(
                html, favor_precision=self.favor_precision, include_comments=self.include_comments,
                deduplicate=self.deduplicate,
            ) or ""
        else:
            from resiliparse.extract.html2text import extract_plain_text

            text = extract_plain_text(html, main_content=self.main_content)
        return _NEWLINE_RUNS.sub("\n\n", text).strip()

    def process(self, doc: Document) -> str | None:
        if doc.metadata.get("content_type") != "text/html":
            return None
        if self.deduplicate and doc.metadata.get("source") != getattr(self, "_source", None):
            # trafilatura's `deduplicate` remembers text seen in earlier documents of this process;
            # forgetting it at each new input file makes the output depend on that file alone, so a
            # resumed run (or another worker count) extracts exactly what a clean run does
            from trafilatura.deduplication import LRU_TEST

            LRU_TEST.clear()
            self._source = doc.metadata.get("source")
        try:
            with time_limit(self.timeout_s):
                text = self.extract(doc.text)
        except DocumentTimeout:
            return "extract_timeout"
        if not text:
            return "extract_empty"
        doc.text = text
        doc.metadata["content_type"] = "text/plain"
        return None
