"""A light length filter (quickstart's recipe): too few words or characters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from roots.data.base import Filter
from roots.data.document import Document


@dataclass
class LengthFilter(Filter):
    """Drop documents shorter than `min_words` whitespace words or `min_chars` characters."""

    name: ClassVar[str] = "length"

    min_words: int = 0
    min_chars: int = 0

    def filter(self, doc: Document) -> str | None:
        if len(doc.text) < self.min_chars:
            return "too_few_chars"
        if self.min_words and len(doc.text.split()) < self.min_words:
            return "too_few_words"
        return None
