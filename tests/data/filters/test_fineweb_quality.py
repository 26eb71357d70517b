"""Conformance of fineweb_quality with RECIPES.md §4: just inside / just outside each rule."""

from __future__ import annotations

import itertools

from roots.data.document import Document
from roots.data.filters.fineweb_quality import FineWebQuality


def reason(text: str, **params) -> str | None:
    return FineWebQuality(**params).filter(Document(text, "t"))


def unique_lines(k: int, end: str = ".", words: int = 7) -> list[str]:
    """k distinct lines of `words` 4-letter words (7 words: 35 characters with the end mark, not short)."""
    vocab = ("".join(p) for p in itertools.product("bcdfghjklmnp", repeat=4))
    return [" ".join(itertools.islice(vocab, words)) + end for _ in range(k)]


def test_line_punctuation_ratio():
    """RECIPES.md §4: fraction of lines ending in punctuation >= 0.12."""
    assert reason("\n".join(unique_lines(12) + unique_lines(88, end=""))) is None
    assert reason("\n".join(unique_lines(11) + unique_lines(89, end=""))) == "fineweb_line_punct_ratio"


def test_line_punctuation_exclude_zero_option():
    """FineWeb's `line_punct_exclude_zero`: a document with NO punctuated line is not dropped by this rule."""
    text = "\n".join(unique_lines(10, end=""))
    assert reason(text) == "fineweb_line_punct_ratio"
    assert reason(text, line_punct_exclude_zero=True) is None


def test_ellipsis_is_not_terminal_punctuation():
    """RECIPES.md §4: the ellipsis "…" is not a sentence terminal (Unicode Sentence_Terminal)."""
    assert reason("\n".join(unique_lines(10, end="…"))) == "fineweb_line_punct_ratio"
    assert reason("\n".join(unique_lines(10, end="。"))) is None


def test_short_line_ratio():
    """RECIPES.md §4: fraction of lines <= 30 characters <= 0.67."""
    short = unique_lines(68, words=5)  # 5 x 4 + 4 spaces + "." = 25 characters
    long = unique_lines(33)
    assert reason("\n".join(short[:67] + long)) is None
    assert reason("\n".join(short[:68] + long[:32])) == "fineweb_short_line_ratio"


def test_short_line_is_at_most_30_characters():
    """RECIPES.md §4: a line of exactly 30 characters is short, 31 is not."""
    assert reason("\n".join(["a" * 29 + "."] * 1 + unique_lines(1)), max_short_line_ratio=0.5) is None
    assert reason("\n".join(["a" * 29 + "."] * 2 + unique_lines(1)),
                  max_short_line_ratio=0.5) == "fineweb_short_line_ratio"
    assert reason("\n".join(["a" * 30 + "."] * 2 + unique_lines(1)), max_short_line_ratio=0.5,
                  max_dup_line_char_ratio=1) is None


def test_duplicate_line_chars():
    """RECIPES.md §4: characters in duplicated lines <= 0.01 (of the characters, newlines excluded)."""
    lines = unique_lines(29)  # 29 x 35 = 1015 characters
    dup = "Duplicate line."  # 15 characters, 1 repeat: 15 / 1500 = 0.01
    inside = [*lines, dup, dup, "x" * (1500 - 1015 - 30 - 1) + "."]
    assert sum(map(len, inside)) == 1500
    assert reason("\n".join(inside)) is None
    outside = [*inside[:-1], inside[-1][1:]]  # 15 / 1499
    assert reason("\n".join(outside)) == "fineweb_dup_line_chars"


def test_newlines_per_word():
    """RECIPES.md §4: newlines per word <= 0.3 (blank lines count: every "\\n" is counted)."""
    lines = unique_lines(9, words=10)  # 90 words, 8 newlines
    text = "\n".join(lines) + "\n" * 19  # 27 newlines / 90 words = 0.30
    assert reason(text) is None
    assert reason(text + "\n\n\n") == "fineweb_list_ratio"  # 30 / 90


def test_empty_and_wordless_documents():
    assert reason("") == "fineweb_empty"
    assert reason(" \n \n") == "fineweb_empty"
    assert reason("... !!! ???\n.....", max_short_line_ratio=1) == "fineweb_list_ratio"
