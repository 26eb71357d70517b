"""Conformance of refinedweb_lines with RECIPES.md §1 (line-wise corrections): each line rule and the
5% document rule."""

from __future__ import annotations

import pytest

from roots.data.document import Document
from roots.data.filters.refinedweb_lines import RefinedWebLines

BODY = [f"Line {i} of the article talks about rivers and mills in spring." for i in range(20)]  # 12 words


def removes(line: str) -> bool:
    from roots.data.analysis import split_words

    return RefinedWebLines().removes(line, len(split_words(line)))


def test_mostly_uppercase_line():
    """RECIPES.md §1: remove lines that are mostly uppercase (more than half of the letters)."""
    assert not removes("ABCDE FGHIJ klmno pqrst")  # 10 / 20 letters
    assert removes("ABCDE FGHIJ Klmno pqrst")  # 11 / 20


@pytest.mark.parametrize("line", ["2023-05-17", "12 / 45 ...", "$ 1,299.00", "--- *** ---"])
def test_only_digits_or_punctuation(line):
    """RECIPES.md §1: remove lines made only of digits/punctuation."""
    assert removes(line)


@pytest.mark.parametrize("line", ["3 likes", "12 comments", "1.2K views", "1,024 followers", "5 Shares"])
def test_counter_lines(line):
    """RECIPES.md §1: remove counters ("3 likes", "12 comments")."""
    assert removes(line)
    assert not removes(line + " from readers across the whole country")


def test_single_word_line():
    """RECIPES.md §1: remove single-word lines."""
    assert removes("Menu")
    assert not removes("Main menu")


@pytest.mark.parametrize(("short", "long"), [
    ("Sign in to your account", "Sign in to see the replies from our editors on this long article"),
    ("Read more", "This story about mills and rivers goes on and on; read more"),
    ("You have 3 items in cart", "There were 3 items in cart while we walked around the old mill"),
])
def test_boilerplate_patterns_only_in_short_lines(short, long):
    """RECIPES.md §1: short lines (<= 10 words) matching a start / end / anywhere pattern are removed."""
    assert removes(short)
    assert len(long.split()) > 10 and not removes(long)


def test_pattern_line_word_limit_is_inclusive():
    """RECIPES.md §1: "short" is <= 10 words."""
    ten = "Sign in to read the rest of this long page"
    assert len(ten.split()) == 10 and removes(ten)
    assert not removes(ten + " today")


def _doc_with_removed_words(n_removed: int, n_kept: int) -> Document:
    """`n_kept` words in normal lines plus one all-caps line of `n_removed` words."""
    kept_lines = [" ".join(["word"] * 4 + ["river"]) + "." for _ in range(n_kept // 5)]
    return Document("\n".join([*kept_lines, " ".join(["CAPS"] * n_removed)]), "t")


def test_removed_words_ratio():
    """RECIPES.md §1: drop the document if the removed lines held > 5% of its words."""
    doc = _doc_with_removed_words(5, 95)  # 5 / 100
    assert RefinedWebLines().process(doc) is None and "CAPS" not in doc.text
    assert RefinedWebLines().process(_doc_with_removed_words(6, 95)) == "refinedweb_lines_removed"  # 6 / 101


def test_clean_document_untouched():
    doc = Document("\n".join(BODY) + "\n\n" + "\n".join(BODY[:3]), "t")
    text = doc.text
    assert RefinedWebLines().process(doc) is None and doc.text is text


def test_wordless_document():
    assert RefinedWebLines().process(Document("--- ***\n\n...", "t")) == "refinedweb_no_words"
