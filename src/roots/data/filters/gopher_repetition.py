"""MassiveText (Gopher) repetition rules, RECIPES.md §2.2 (Rae et al. 2021, Table A1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from roots.common.errors import UserError
from roots.data import analysis
from roots.data.base import Filter
from roots.data.document import Document


@dataclass
class GopherRepetition(Filter):
    """Drop documents whose repeated lines, paragraphs or word n-grams exceed Table A1's fractions.

    Definitions roots pins (where toolkits diverge):
    - lines are non-blank stripped lines, paragraphs blank-line-separated blocks (`roots.data.analysis`);
      a duplicate is an occurrence of a line/paragraph that already occurred earlier (the first
      occurrence is the original and does not count).
    - character fractions are over `len(text)`; an n-gram's characters are its words' characters
      (separators not counted). Top n-gram: occurrences x characters of the most frequent n-gram.
      Duplicated n-grams: characters of the words covered by repeated occurrences, each word counted
      once however many overlapping repeated n-grams cover it.
    - every threshold is strict: a document exactly at a threshold is kept.
    """

    name = "gopher_repetition"
    lang: str | None = None  # words of this language (roots.data.words); None: the document's metadata lang
    max_dup_line_frac: float = 0.30
    max_dup_para_frac: float = 0.30
    max_dup_line_char_frac: float = 0.20
    max_dup_para_char_frac: float = 0.20
    # n -> max fraction of characters in the most frequent n-gram
    max_top_ngram_char_frac: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    # n -> max fraction of characters in duplicated n-grams
    max_dup_ngram_char_frac: dict[int, float] = field(default_factory=lambda: {
        5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})

    def __post_init__(self) -> None:
        # YAML/CLI may give the n's as strings
        self.max_top_ngram_char_frac = {int(n): float(f) for n, f in self.max_top_ngram_char_frac.items()}
        self.max_dup_ngram_char_frac = {int(n): float(f) for n, f in self.max_dup_ngram_char_frac.items()}
        bad = [n for n in (*self.max_top_ngram_char_frac, *self.max_dup_ngram_char_frac)
               if not 1 <= n <= analysis.MAX_NGRAM]
        if bad:
            raise UserError(f"gopher_repetition: n-gram sizes must be in 1..{analysis.MAX_NGRAM}, got {bad}")

    def filter(self, doc: Document) -> str | None:
        n_chars = len(doc.text)
        if n_chars == 0:
            return None  # nothing repeats in an empty document (length rules drop it)
        paragraphs = analysis.paragraphs(doc)
        n_dup, dup_chars = analysis.paragraph_duplicates(doc)
        if n_dup / len(paragraphs) > self.max_dup_para_frac:
            return "gopher_dup_paragraphs"
        if dup_chars / n_chars > self.max_dup_para_char_frac:
            return "gopher_dup_paragraph_chars"
        lines = analysis.lines(doc)
        n_dup, dup_chars = analysis.line_duplicates(doc)
        if n_dup / len(lines) > self.max_dup_line_frac:
            return "gopher_dup_lines"
        if dup_chars / n_chars > self.max_dup_line_char_frac:
            return "gopher_dup_line_chars"
        for n, max_frac in self.max_top_ngram_char_frac.items():
            if analysis.ngram_stats(doc, n, self.lang).top_chars / n_chars > max_frac:
                return f"gopher_top_{n}gram"
        for n, max_frac in self.max_dup_ngram_char_frac.items():
            if analysis.ngram_stats(doc, n, self.lang).dup_chars / n_chars > max_frac:
                return f"gopher_dup_{n}grams"
        return None
