"""FineWeb's extra quality rules, RECIPES.md §4 (Penedo et al. 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from roots.data import analysis
from roots.data.base import Filter
from roots.data.document import Document

# Unicode sentence terminals of the common scripts (FineWeb uses the Sentence_Terminal property);
# the ellipsis "…" is deliberately not one
TERMINAL_PUNCTUATION = (".", "!", "?", "。", "！", "？", "．", "｡", "؟", "۔", "।", "॥", "։", "።", "፧",
                        "‼", "‽", "⁇", "⁈", "⁉", "܀", "܁", "܂", "။", "។", "៕")


@dataclass
class FineWebQuality(Filter):
    """Drop documents failing FineWeb's line-shape rules; defaults are FineWeb's.

    Lines are non-blank stripped lines (`roots.data.analysis`). "Characters in duplicated lines" is the
    length of every line that repeats an earlier one, over the text's characters excluding newlines.
    "Newlines per word" counts every "\\n" (blank lines included) over `analysis` words.
    """

    name = "fineweb_quality"
    lang: str | None = None  # words of this language (roots.data.words); None: the document's metadata lang
    min_line_punct_ratio: float = 0.12
    line_punct_exclude_zero: bool = False  # FineWeb's option: do not drop when NO line ends in punctuation
    max_short_line_ratio: float = 0.67
    short_line_length: int = 30
    max_dup_line_char_ratio: float = 0.01
    max_newline_word_ratio: float = 0.3
    terminal_punctuation: tuple[str, ...] = TERMINAL_PUNCTUATION

    def filter(self, doc: Document) -> str | None:
        lines = analysis.lines(doc)
        if not lines:
            return "fineweb_empty"
        punct = sum(1 for line in lines if line.endswith(self.terminal_punctuation)) / len(lines)
        if punct < self.min_line_punct_ratio and not (punct == 0 and self.line_punct_exclude_zero):
            return "fineweb_line_punct_ratio"
        short = sum(1 for line in lines if len(line) <= self.short_line_length) / len(lines)
        if short > self.max_short_line_ratio:
            return "fineweb_short_line_ratio"
        newlines = doc.text.count("\n")
        if analysis.line_duplicates(doc)[1] / (len(doc.text) - newlines) > self.max_dup_line_char_ratio:
            return "fineweb_dup_line_chars"
        n_words = len(analysis.words(doc, self.lang))
        if n_words == 0 or newlines / n_words > self.max_newline_word_ratio:
            return "fineweb_list_ratio"
        return None
