"""Remove URLs from the text: RefinedWeb's extraction row, RECIPES.md §1."""

from __future__ import annotations

import re
from dataclasses import dataclass

from roots.data.base import Step
from roots.data.document import Document

# a URL does not end with sentence punctuation: "see www.a.org." keeps its period
URL_RE = re.compile(r"(?:\b[a-z][a-z0-9+.\-]*://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_SPACES_RE = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"[ \t]+(?=[.,;:!?)\]]|\n|$)")
_NEWLINES_RE = re.compile(r"\n{3,}")


@dataclass
class StripUrls(Step):
    """Delete URLs ("scheme://..." and "www....") from the text, then tidy the spaces they leave.

    Runs of newlines are collapsed to at most two (RefinedWeb's extraction cleanup). Never drops a
    document: one left empty is dropped by the length rules that follow.
    """

    name = "strip_urls"
    collapse_newlines: bool = True

    def process(self, doc: Document) -> str | None:
        text, n_urls = URL_RE.subn("", doc.text)
        if n_urls:
            text = _SPACE_BEFORE_PUNCT_RE.sub("", _SPACES_RE.sub(" ", text))
        if self.collapse_newlines:
            text = _NEWLINES_RE.sub("\n\n", text)
        if text != doc.text:
            doc.text = text
        return None
