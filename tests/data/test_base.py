from __future__ import annotations

from dataclasses import dataclass

from roots.data.base import Filter, Step, StepStats
from roots.data.document import Document


@dataclass
class MinLength(Filter):
    name = "min_length"
    min_chars: int = 5

    def filter(self, doc):
        return "too_short" if len(doc.text) < self.min_chars else None


@dataclass
class Upper(Step):
    name = "upper"

    def process(self, doc):
        if doc.text == "boom":
            raise ValueError("cannot")
        doc.text = doc.text.upper()
        return None


def test_filter_counts_and_rejects():
    docs = [Document("hello world", "a"), Document("hi", "b"), Document("", "c")]
    stats, rejected = StepStats("min_length"), []
    kept = list(MinLength().run(docs, stats, rejects=lambda d, r: rejected.append((d.id, r))))
    assert [d.id for d in kept] == ["a"]
    assert (stats.docs_in, stats.docs_out, stats.chars_in, stats.chars_out) == (3, 1, 13, 11)
    assert stats.dropped == {"too_short": 2}
    assert rejected == [("b", "too_short"), ("c", "too_short")]
    assert [e["id"] for e in stats.examples["too_short"]] == ["b", "c"]


def test_exception_is_counted_not_raised():
    stats = StepStats("upper")
    kept = list(Upper().run([Document("boom", "x"), Document("ok", "y")], stats))
    assert [d.text for d in kept] == ["OK"]
    assert stats.dropped == {"upper_error": 1} and "ValueError" in stats.errors[0]


def test_stats_merge_and_roundtrip():
    a, b = StepStats("s", docs_in=2, docs_out=1), StepStats("s", docs_in=3, docs_out=3)
    a.dropped["x"] = 1
    merged = StepStats.from_dict(a.merge(b).to_dict())
    assert (merged.docs_in, merged.docs_out, dict(merged.dropped)) == (5, 4, {"x": 1})


def test_document_cache_invalidates_on_edit():
    doc, calls = Document("a b", "1"), []

    def words(text):
        calls.append(text)
        return text.split()

    assert doc.cached("words", words) == ["a", "b"]
    assert doc.cached("words", words) == ["a", "b"]
    doc.text = "c d e"
    assert doc.cached("words", words) == ["c", "d", "e"]
    assert len(calls) == 2
