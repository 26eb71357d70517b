"""RefinedWeb (MDR) line-wise corrections, RECIPES.md §1 (Penedo et al. 2023, Appendix G.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from roots.data.analysis import split_words, word_lang
from roots.data.base import Step
from roots.data.document import Document

# "3 likes", "12 comments", "1.2K views", "5 shares" ...
COUNTER_RE = re.compile(
    r"^\d[\d,.]*\s*[kKmM]?\s+(?:likes?|comments?|shares?|views?|followers?|replies|reply|retweets?|"
    r"votes?|points?|reviews?|answers?|favou?rites?|downloads?|reads?)\.?$", re.IGNORECASE)
START_PATTERNS = ("sign in", "sign-in", "sign up", "log in", "login", "log out", "subscribe", "share this",
                  "click here", "skip to", "posted by", "follow us", "advertisement")
END_PATTERNS = ("read more", "read more...", "read more…", "continue reading", "click here", "see more",
                "show more", "load more")
ANYWHERE_PATTERNS = ("items in cart", "add to cart", "your cart", "all rights reserved", "cookie",
                     "javascript", "terms of service", "privacy policy")


@dataclass
class RefinedWebLines(Step):
    """Remove boilerplate lines; drop the document when the removed lines held too many of its words.

    A line (split on "\\n") is removed when it is mostly uppercase (more than `max_uppercase_ratio` of
    its letters), has no letter (only digits/punctuation), is a counter ("3 likes"), is a single word,
    or is short (<= `max_pattern_line_words` words) and matches a boilerplate pattern at its start, its
    end or anywhere (case-insensitive). RECIPES.md's reading of the paper is followed: a matching line is
    removed (the paper calls this an "edit"). If the removed lines held more than `max_removed_word_ratio`
    of the document's words (`analysis` words), the whole document is dropped. Blank lines are kept.
    """

    name = "refinedweb_lines"
    lang: str | None = None  # words of this language (roots.data.words); None: the document's metadata lang
    max_uppercase_ratio: float = 0.5
    max_pattern_line_words: int = 10
    max_removed_word_ratio: float = 0.05
    start_patterns: tuple[str, ...] = START_PATTERNS
    end_patterns: tuple[str, ...] = END_PATTERNS
    anywhere_patterns: tuple[str, ...] = ANYWHERE_PATTERNS

    def __post_init__(self) -> None:
        self._start = tuple(p.lower() for p in self.start_patterns)
        self._end = tuple(p.lower() for p in self.end_patterns)
        self._anywhere = tuple(p.lower() for p in self.anywhere_patterns)

    def removes(self, line: str, n_words: int) -> bool:
        """Whether `line` (stripped, non-blank, with `n_words` words) is boilerplate."""
        letters = [c for c in line if c.isalpha()]
        if not letters:
            return True  # only digits / punctuation
        if sum(c.isupper() for c in letters) / len(letters) > self.max_uppercase_ratio:
            return True
        if n_words <= 1 or COUNTER_RE.match(line):
            return True
        if n_words <= self.max_pattern_line_words:
            lower = line.lower()
            if lower.startswith(self._start) or lower.endswith(self._end):
                return True
            if any(p in lower for p in self._anywhere):
                return True
        return False

    def process(self, doc: Document) -> str | None:
        kept, total_words, removed_words = [], 0, 0
        lang = word_lang(doc, self.lang)
        for line in doc.text.split("\n"):
            stripped = line.strip()
            if not stripped:
                kept.append(line)
                continue
            n_words = len(split_words(stripped, lang))
            total_words += n_words
            if self.removes(stripped, n_words):
                removed_words += n_words
            else:
                kept.append(line)
        if total_words == 0:
            return "refinedweb_no_words"
        if removed_words / total_words > self.max_removed_word_ratio:
            return "refinedweb_lines_removed"
        if removed_words or len(kept) < doc.text.count("\n") + 1:
            doc.text = "\n".join(kept).strip("\n")
        return None
