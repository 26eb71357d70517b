"""Conformance of gopher_repetition with RECIPES.md §2.2 (Table A1): just inside / just outside each rule.

Documents are built to an exact length so that each fraction lands exactly on its threshold (kept:
thresholds are strict) or one character past it (dropped).
"""

from __future__ import annotations

import itertools

import pytest

from roots.data.document import Document
from roots.data.filters.gopher_repetition import GopherRepetition

NO_NGRAMS = {"max_top_ngram_char_frac": {}, "max_dup_ngram_char_frac": {}}


def reason(text: str, **params) -> str | None:
    return GopherRepetition(**params).filter(Document(text, "t"))


def fillers(k: int, length: int = 2) -> list[str]:
    """k distinct filler words over letters that the patterns below never use."""
    return ["".join(p) for p in itertools.islice(itertools.product("klmnopqrstuvwxy", repeat=length), k)]


def padded(text: str, total: int) -> str:
    """`text` + " " + a unique "z..." word, so that the result is exactly `total` characters."""
    pad = total - len(text) - 1
    assert pad >= 1, (len(text), total)
    return text + " " + "z" * pad


def block_lines(n_unique: int, repeated: str, copies: int, sep: str) -> str:
    """`copies` copies of `repeated` then `n_unique` distinct long lines, joined by `sep`."""
    unique = [" ".join(fillers(8, 3)[:4]) + f" {w}" for w in fillers(n_unique, 3)]
    return sep.join([repeated] * copies + unique)


@pytest.mark.parametrize(("sep", "rule"), [("\n", "gopher_dup_lines"), ("\n\n", "gopher_dup_paragraphs")])
def test_duplicate_line_and_paragraph_fraction(sep, rule):
    """RECIPES.md §2.2: duplicate lines / lines > 0.30 and duplicate paragraphs / paragraphs > 0.30."""
    # 31 copies = 1 original + 30 duplicates among 100 items: exactly 0.30
    assert reason(block_lines(69, "ok", 31, sep), **NO_NGRAMS) is None
    assert reason(block_lines(69, "ok", 32, sep), **NO_NGRAMS) == rule  # 31 / 101


@pytest.mark.parametrize(("sep", "rule"), [("\n", "gopher_dup_line_chars"),
                                           ("\n\n", "gopher_dup_paragraph_chars")])
def test_duplicate_line_and_paragraph_chars(sep, rule):
    """RECIPES.md §2.2: characters in duplicate lines (paragraphs) / characters > 0.20."""
    def text(total: int) -> str:
        head = sep.join(["a" * 20, "a" * 20, "b" * 10, "c" * 10, "d" * 10])  # 20 duplicate characters
        return head + sep + "e" * (total - len(head) - len(sep))

    assert reason(text(100), **NO_NGRAMS) is None  # 20 / 100
    assert reason(text(99), **NO_NGRAMS) == rule  # 20 / 99


@pytest.mark.parametrize(("n", "max_frac", "pattern", "count"), [
    (2, 0.20, "ab cd", 5),             # 5 x 4 chars = 20 in 100
    (3, 0.18, "ab cd ef", 6),          # 6 x 6 = 36 in 200
    (4, 0.16, "ab cd ef gh", 4),       # 4 x 8 = 32 in 200
])
def test_top_ngram_chars(n, max_frac, pattern, count):
    """RECIPES.md §2.2: characters in the most frequent 2-gram / 3-gram / 4-gram > 0.20 / 0.18 / 0.16."""
    sep = fillers(count)
    text = " ".join(f"{pattern} {s}" for s in sep)
    total = round(count * len(pattern.replace(" ", "")) / max_frac)
    assert reason(padded(text, total)) is None
    assert reason(padded(text, total - 1)) == f"gopher_top_{n}gram"


@pytest.mark.parametrize(("n", "max_frac", "pattern"), [
    (5, 0.15, "abc bcd cde def efg"),      # 15 word characters, repeated once, in 100
    (6, 0.14, "ab bc cd de efg fgh"),      # 14
    (7, 0.13, "ab bc cd de ef fg h"),      # 13
    (8, 0.12, "a b c d ef fg gh hi"),      # 12
    (9, 0.11, "a b c d e f g hi ij"),      # 11
    (10, 0.10, "a b c d e f g h i j"),     # 10
])
def test_duplicated_ngram_chars(n, max_frac, pattern):
    """RECIPES.md §2.2: characters in duplicated 5..10-grams > 0.15 / 0.14 / 0.13 / 0.12 / 0.11 / 0.10.

    The top-n-gram rules are switched off: a pattern repeated twice also has a frequent 4-gram."""
    text = " ".join([pattern, *fillers(3), pattern, *fillers(6)[3:]])
    assert reason(padded(text, 100), max_top_ngram_char_frac={}) is None
    assert reason(padded(text, 99), max_top_ngram_char_frac={}) == f"gopher_dup_{n}grams"


def test_overlapping_duplicates_count_once():
    """RECIPES.md §2.2: a character in overlapping duplicated n-grams counts once.

    "a a a a a a" (6 words) holds two 5-grams, the second repeats the first and covers words 1..5:
    5 characters, not 2 x 5."""
    text = "a a a a a a"
    assert reason(padded(text, 34), max_top_ngram_char_frac={}) is None  # 5 / 34 < 0.15
    assert reason(padded(text, 33), max_top_ngram_char_frac={}) == "gopher_dup_5grams"  # 5 / 33 > 0.15


def test_unrepeated_document_is_kept():
    """RECIPES.md §2.2: without any repeated n-gram there is no "most frequent" one (roots' choice): a
    short document whose single 2-gram is long is not flagged by the top-n-gram rules."""
    assert reason(" ".join(fillers(200, 3))) is None
    assert reason("supercalifragilistic expialidocious") is None


def test_empty_document_is_left_to_length_rules():
    assert reason("") is None


def test_bad_ngram_size_is_a_user_error():
    from roots.common.errors import UserError

    with pytest.raises(UserError, match="n-gram sizes"):
        GopherRepetition(max_dup_ngram_char_frac={40: 0.1})
