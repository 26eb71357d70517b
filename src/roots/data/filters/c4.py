"""C4's line and document rules, RECIPES.md §4 (Raffel et al. 2020 §2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from roots.common.errors import UserError
from roots.data import analysis
from roots.data.base import Step
from roots.data.document import Document

CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
TERMINAL_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                  "use cookies")
# a sentence ends at a run of . ! ? (optionally closed by quotes/brackets) followed by space or the end
SENTENCE_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
# Chinese/Japanese lines (lang zh, ja): full-width terminals end lines and sentences, no space needed
CJK_TERMINAL_PUNCTUATION = (*TERMINAL_PUNCTUATION, "。", "！", "？", "」", "』", "”")
CJK_SENTENCE_END_RE = re.compile(r"[。！？!?]+[」』”]*|[.!?]+[\"'”’)\]]*(?=\s|$)")


@dataclass
class C4(Step):
    """Keep C4's lines and drop C4's documents; defaults are the C4 PAPER's values.

    Per line, in the order of C4's reference code (tfds c4_utils): drop lines with a word longer than
    `max_word_length`; strip citation marks; drop lines not ending in terminal punctuation (or ending in
    "..."); drop lines with fewer than `min_words_per_line` whitespace words (for zh/ja: segmented words,
    and full-width terminals end lines and sentences); drop the document on
    "lorem ipsum"; drop lines mentioning "javascript"; drop the document on "{"; drop cookie/policy
    lines. Then drop the document with fewer than `min_sentences` sentences in its kept lines.

    Pinned choices: the paper's 5 words/line and 3 sentences (datatrove swaps them: 3 and 5).
    Sentences are counted with a regex (a run of . ! ? followed by whitespace or the line end; each
    kept line counts at least one), not a trained splitter: abbreviations ("Dr. Smith") count as ends.
    The optional bad-words rule takes a user file (one word or phrase per line; C4 used LDNOOBW) and
    drops documents containing one as a whole word, case-insensitively.
    """

    name = "c4"
    lang: str | None = None  # words per line in this language (roots.data.words); None: the document's metadata lang
    min_words_per_line: int = 5
    min_sentences: int = 3
    max_word_length: int = 1000
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    badwords_file: str | None = None

    def __post_init__(self) -> None:
        self._badwords: re.Pattern | None = None

    def setup(self) -> None:
        if self.badwords_file and self._badwords is None:
            path = Path(self.badwords_file)
            if not path.is_file():
                raise UserError(f"c4: badwords_file {path} does not exist (one word or phrase per line)")
            words = sorted({w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines()} - {""})
            if words:
                self._badwords = re.compile(r"(?:\W|^)(?:" + "|".join(map(re.escape, words)) + r")(?:\W|$)")

    def process(self, doc: Document) -> str | None:
        kept, sentences = [], 0
        lang = analysis.word_lang(doc, self.lang)  # "": whitespace words, as C4
        terminal = CJK_TERMINAL_PUNCTUATION if lang else TERMINAL_PUNCTUATION
        sentence_end = CJK_SENTENCE_END_RE if lang else SENTENCE_END_RE
        for line in doc.text.split("\n"):
            line = line.strip()
            words = analysis.split_words(line, lang) if lang else line.split()
            if any(len(w) > self.max_word_length for w in words):
                continue
            if self.remove_citations:
                line = CITATION_RE.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(terminal)
                                                  or line.endswith("...")):
                continue
            if len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                return "c4_lorem_ipsum"
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                return "c4_curly_bracket"
            if self.filter_policy and any(p in lower for p in POLICY_PHRASES):
                continue
            sentences += max(1, len(sentence_end.findall(line)))
            kept.append(line)
        if sentences < self.min_sentences:
            return "c4_too_few_sentences"
        text = "\n".join(kept)
        if self.badwords_file:
            self.setup()
            if self._badwords is not None and self._badwords.search(text.lower()):
                return "c4_badwords"
        if text != doc.text:  # an untouched document keeps its shared analysis
            doc.text = text
        return None
