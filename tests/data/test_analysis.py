"""The shared per-document analysis: definitions, n-gram statistics against a brute-force reference,
and the guarantee that a chain of filters splits a document once."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from roots.data import analysis
from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.registry import build_step


def test_words_exclude_punctuation_and_keep_inner_joiners():
    """RECIPES.md §2 (known divergence: word splitting): roots' words are regex words, not split()."""
    assert analysis.split_words("Hello, world! Don't e-mail me at 3.14 p.m... ok?") == [
        "Hello", "world", "Don't", "e-mail", "me", "at", "3.14", "p.m", "ok"]
    assert analysis.split_words(" -- ... !!") == []


def test_lines_and_paragraphs():
    text = "  first line \n\n second \n \t \nthird\n"
    assert analysis.split_lines(text) == ["first line", "second", "third"]
    assert analysis.split_paragraphs(text) == ["first line", "second", "third"]
    assert analysis.split_paragraphs("a\nb\n\nc") == ["a\nb", "c"]
    assert analysis.split_paragraphs(" \n ") == []


def _reference_ngram_stats(words: list[str], n: int) -> tuple[int, int]:
    """Brute force: the definitions of analysis.NGramStats written out with tuples and sets."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0, 0
    counts = Counter(grams)
    top = max(counts.values())
    top_chars = max(top * sum(map(len, g)) for g, c in counts.items() if c == top) if top > 1 else 0
    seen, covered = set(), set()
    for i, g in enumerate(grams):
        if g in seen:
            covered.update(range(i, i + n))
        seen.add(g)
    return top_chars, sum(len(words[i]) for i in covered)


@pytest.mark.parametrize("seed", range(20))
def test_ngram_stats_match_brute_force(seed):
    rng = random.Random(seed)
    vocab = ["a", "bb", "ccc", "dddd", "the", "of", "x"][: rng.randint(2, 7)]
    words = [rng.choice(vocab) for _ in range(rng.randint(0, 60))]
    doc = Document(" ".join(words), "d")
    for n in range(1, 11):
        stats = analysis.ngram_stats(doc, n)
        assert (stats.top_chars, stats.dup_chars) == _reference_ngram_stats(words, n), n


def test_duplicate_stats_count_repeats_not_originals():
    assert analysis.duplicate_stats(["a", "bb", "a", "bb", "a", "c"]) == (3, 4)


def test_filter_chain_splits_the_text_once(monkeypatch):
    """A chain of filters shares one analysis; an edit (C4 removing lines) invalidates it once."""
    calls = Counter()
    for name in ("split_words", "split_lines", "split_paragraphs"):
        original = getattr(analysis, name)

        def counting(text, *args, _original=original, _name=name):
            calls[_name] += 1
            return _original(text, *args)

        monkeypatch.setattr(analysis, name, counting)
    text = "\n".join([
        "The old mill by the river was built in 1820 and still grinds wheat every autumn.",
        "Visitors walk along the towpath to watch the wheel turn slowly in the current.",
        "Local bakers buy most of the flour, and a small shop sells bread to tourists.",
        "In winter the water freezes near the banks, so the miller has to stop work early.",
        "Children from the village school come each spring to learn how grain becomes food.",
        "A volunteer society repairs the roof, paints the doors and keeps records of the machinery.",
    ])
    text += "\nmenu"  # C4 removes this line: the text changes once
    chain = [build_step(n) for n in ("gopher_repetition", "gopher_quality", "fineweb_quality", "c4",
                                     "gopher_repetition", "gopher_quality", "fineweb_quality")]
    docs = [Document(text, "d")]
    for step in chain:
        stats = StepStats(step.name)
        docs = list(step.run(docs, stats))
        assert not stats.dropped, (step.name, stats.dropped)
    assert len(docs) == 1 and "menu" not in docs[0].text
    assert calls == {"split_words": 2, "split_lines": 2, "split_paragraphs": 2}
