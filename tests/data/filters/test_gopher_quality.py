"""Conformance of gopher_quality with RECIPES.md §2.1: a document just inside and just outside each rule."""

from __future__ import annotations

import pytest

from roots.data.document import Document
from roots.data.filters.gopher_quality import GopherQuality


def reason(text: str, **params) -> str | None:
    return GopherQuality(**params).filter(Document(text, "t"))


def words(n: int, filler: str = "garden") -> list[str]:
    """n words: two distinct stop words then `filler` (mean length ~6, all alphabetic)."""
    return ["the", "and"] + [filler] * (n - 2)


def test_word_count_min():
    """RECIPES.md §2.1: word count < 50."""
    assert reason(" ".join(words(50))) is None
    assert reason(" ".join(words(49))) == "gopher_short_doc"


def test_word_count_max():
    """RECIPES.md §2.1: word count > 100,000."""
    assert reason(" ".join(words(100_000))) is None
    assert reason(" ".join(words(100_001))) == "gopher_long_doc"


def test_mean_word_length_min():
    """RECIPES.md §2.1: mean word length < 3."""
    inside = ["the", "and"] + ["ab"] * 49 + ["abcd"] * 49  # (6 + 98 + 196) / 100 = 3.00
    assert reason(" ".join(inside)) is None
    outside = ["the", "and"] + ["ab"] * 49 + ["abcd"] * 48 + ["abc"]  # 2.99
    assert reason(" ".join(outside)) == "gopher_short_words"


def test_mean_word_length_max():
    """RECIPES.md §2.1: mean word length > 10."""
    inside = ["the", "and"] + ["abcdefghij"] * 96 + ["a" * 17] * 2  # 1000 / 100 = 10.00
    assert reason(" ".join(inside)) is None
    outside = ["the", "and"] + ["abcdefghij"] * 96 + ["a" * 17, "a" * 18]  # 10.01
    assert reason(" ".join(outside)) == "gopher_long_words"


def test_mean_not_median_word_length():
    """RECIPES.md §2 (known divergence: mean vs median): roots uses the MEAN word length."""
    text = " ".join(["the", "and"] + ["abc"] * 50 + ["a"] * 48)  # median 3, mean 2.04
    assert reason(text) == "gopher_short_words"


def test_hash_ratio():
    """RECIPES.md §2.1: symbol-to-word ratio > 0.1 for "#"."""
    assert reason(" ".join(words(100)) + " #" * 10) is None
    assert reason(" ".join(words(100)) + " #" * 11) == "gopher_hash_ratio"


@pytest.mark.parametrize("ellipsis", ["...", "…"])
def test_ellipsis_ratio(ellipsis):
    """RECIPES.md §2.1: symbol-to-word ratio > 0.1 for the ellipsis ("..." and "…")."""
    w = words(100)
    assert reason(" ".join(w[:50] + [ellipsis] * 10 + w[50:])) is None
    assert reason(" ".join(w[:50] + [ellipsis] * 11 + w[50:])) == "gopher_ellipsis_ratio"


def test_hash_and_ellipsis_are_separate_rules():
    """RECIPES.md §2.1: "#" and ellipsis are counted separately (10 of each in 100 words is kept)."""
    w = words(100)
    assert reason(" ".join(w[:50] + ["..."] * 10 + ["#"] * 10 + w[50:])) is None


def _lines(n: int, starts: int, prefix: str = "", suffix: str = "") -> str:
    """n lines of 10 words; the first `starts` of them get `prefix`/`suffix`."""
    body = " ".join(words(10))
    return "\n".join((prefix + body + suffix) if i < starts else body for i in range(n))


@pytest.mark.parametrize("bullet", ["•", "-", "*"])
def test_bullet_lines(bullet):
    """RECIPES.md §2.1: more than 90% of lines start with a bullet point."""
    assert reason(_lines(10, 9, prefix=bullet + " ")) is None
    assert reason(_lines(10, 10, prefix=bullet + " ")) == "gopher_bullet_lines"


def test_ellipsis_lines():
    """RECIPES.md §2.1: more than 30% of lines end with an ellipsis."""
    assert reason(_lines(10, 3, suffix="...")) is None
    assert reason(_lines(10, 4, suffix="…")) == "gopher_ellipsis_lines"


def test_blank_lines_are_not_lines():
    """RECIPES.md §2.1 line ratios are over non-blank lines (roots' definition of a line)."""
    assert reason(_lines(10, 4, suffix="...").replace("\n", "\n\n\n")) == "gopher_ellipsis_lines"


def test_alphabetic_words():
    """RECIPES.md §2.1: fewer than 80% of words contain an alphabetic character."""
    assert reason(" ".join(words(80) + ["1234"] * 20)) is None
    assert reason(" ".join(words(79) + ["1234"] * 21)) == "gopher_non_alpha_words"


def test_punctuation_is_not_a_word():
    """RECIPES.md §2 (known divergence: word splitting): punctuation tokens neither count as words
    nor lower the alphabetic-word ratio (datatrove's spaCy tokens do)."""
    assert reason(" ".join(words(49)) + " ; ; ; ;") == "gopher_short_doc"
    assert reason(", ".join(words(100)) + " !!! ???") is None


def test_stop_words_distinct():
    """RECIPES.md §2.1 + known divergence: fewer than 2 stop words, counted DISTINCT."""
    assert reason(" ".join(["the", "with"] + ["garden"] * 98)) is None
    assert reason(" ".join(["the", "the", "the"] + ["garden"] * 97)) == "gopher_few_stop_words"


def test_stop_words_case_insensitive():
    """RECIPES.md §2.1: stop words match case-insensitively ("The" counts as "the")."""
    assert reason(" ".join(["The", "AND"] + ["garden"] * 98)) is None


def test_thresholds_are_fields():
    """Every threshold is a parameter: a recipe can loosen them."""
    assert reason(" ".join(words(20)), min_words=20) is None
    assert reason(" ".join(["garden"] * 60), min_stop_words=0) is None


def test_empty_document():
    assert reason("") == "gopher_short_doc"


def test_wordless_document_with_min_words_off():
    """A document without words is too short even with `min_words: 0` (no ratio is defined)."""
    assert reason("... ### ...", min_words=0) == "gopher_short_doc"
