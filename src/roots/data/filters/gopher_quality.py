"""MassiveText (Gopher) document quality rules, RECIPES.md §2.1."""

from __future__ import annotations

import re
from dataclasses import dataclass

from roots.data import analysis
from roots.data.base import Filter
from roots.data.document import Document

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("•", "‣", "◦", "▪", "●", "-", "*", "–")
_has_letter = re.compile(r"[^\W\d_]").search  # a letter: a word character that is no digit or "_"


@dataclass
class GopherQuality(Filter):
    """Drop documents failing any Gopher quality rule (Rae et al. 2021, A.1.1); defaults are the paper's.

    Definitions roots pins (where toolkits diverge):
    - words are `analysis.split_words` words: punctuation is never a word (datatrove counts spaCy
      punctuation tokens as words in the symbol and alphabetic ratios).
    - word length is the MEAN over words (not the median).
    - stop words are counted DISTINCT and case-insensitively ("The" counts as "the").
    - bullet and ellipsis line ratios are over non-blank lines; bullets are any of `bullets`.
    - the "#" and ellipsis symbol ratios are separate rules; "..." and "…" both count as an ellipsis.
    """

    name = "gopher_quality"
    lang: str | None = None  # words of this language (roots.data.words); None: the document's metadata lang
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3
    max_mean_word_length: float = 10
    max_hash_word_ratio: float = 0.1
    max_ellipsis_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    stop_words: tuple[str, ...] = STOP_WORDS
    bullets: tuple[str, ...] = BULLETS

    def __post_init__(self) -> None:
        self._stop_words = frozenset(w.lower() for w in self.stop_words)

    def filter(self, doc: Document) -> str | None:
        text = doc.text
        words = analysis.words(doc, self.lang)
        n_words = len(words)
        if n_words < max(self.min_words, 1):  # the ratios below need at least one word
            return "gopher_short_doc"
        if n_words > self.max_words:
            return "gopher_long_doc"
        mean_length = analysis.word_lengths(doc, self.lang).mean()
        if mean_length < self.min_mean_word_length:
            return "gopher_short_words"
        if mean_length > self.max_mean_word_length:
            return "gopher_long_words"
        if text.count("#") / n_words > self.max_hash_word_ratio:
            return "gopher_hash_ratio"
        if (text.count("...") + text.count("…")) / n_words > self.max_ellipsis_word_ratio:
            return "gopher_ellipsis_ratio"
        lines = analysis.lines(doc)
        if lines:
            if sum(line.startswith(self.bullets) for line in lines) / len(lines) > self.max_bullet_lines_ratio:
                return "gopher_bullet_lines"
            ellipsis_lines = sum(line.endswith(("...", "…")) for line in lines)
            if ellipsis_lines / len(lines) > self.max_ellipsis_lines_ratio:
                return "gopher_ellipsis_lines"
        alpha_words = sum(map(bool, map(_has_letter, words)))  # map/map: no Python frame per word
        if alpha_words / n_words < self.min_alpha_words_ratio:
            return "gopher_non_alpha_words"
        if len(self._stop_words.intersection(map(str.lower, words))) < self.min_stop_words:
            return "gopher_few_stop_words"
        return None
