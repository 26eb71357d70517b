"""strip_urls: RECIPES.md §1 extraction row (strip URLs from the text; collapse newlines to at most 2)."""

from __future__ import annotations

from roots.data.document import Document
from roots.data.filters.strip_urls import StripUrls


def strip(text: str, **params) -> str:
    doc = Document(text, "t")
    assert StripUrls(**params).process(doc) is None
    return doc.text


def test_urls_removed():
    """RECIPES.md §1: strip URLs from the text."""
    assert strip("See https://example.com/a?b=1 for details.") == "See for details."
    assert strip("Visit www.example.org today, or ftp://files.example.net/x.") == "Visit today, or."
    assert strip("No links here.") == "No links here."
    assert strip("(see http://a.org/x)") == "(see)"


def test_newlines_collapsed():
    """RECIPES.md §1: collapse runs of newlines to at most 2."""
    assert strip("a\n\n\n\nb\nc") == "a\n\nb\nc"
    assert strip("a\n\n\n\nb", collapse_newlines=False) == "a\n\n\n\nb"
