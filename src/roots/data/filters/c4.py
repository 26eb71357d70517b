"""C4's line and document rules, RECIPES.md §4 (Raffel et al. 2020 §2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from roots.common.errors import UserError
from roots.data import analysis
from roots.data.base import Step
from roots.data.document import Document
from roots.data.lists import LDNOOBW_LANGUAGES

CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
TERMINAL_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                  "use cookies")
_BADWORDS_ALLOWED = {"sm", "グロ", "女の子", "性"}  # datatrove's allow-list (ja, zh), removed from every list
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
    Bad words (on by default, as C4): a document whose kept text contains a word or phrase of the
    LDNOOBW list of its language (`badwords_lang`, else the document's `lang` metadata, else English;
    28 languages ship with roots, CC-BY-4.0) is dropped; a match is case-insensitive and flanked by
    non-word characters, except in ja, th and zh (no word separators), and datatrove's allow-list
    ("sm", "グロ", "女の子", "性") is removed as in datatrove's C4BadWordsFilter. A language without a
    list is not checked. `badwords_file` adds a user list (one word or phrase per line).
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
    badwords: bool = True
    badwords_lang: str | None = None
    badwords_file: str | None = None

    def __post_init__(self) -> None:
        self._badwords: dict[str, re.Pattern | None] = {}
        if self.badwords_file and not Path(self.badwords_file).is_file():
            raise UserError(f"c4: badwords_file {self.badwords_file} does not exist (one word or phrase per line)")

    def lists(self) -> list[str]:
        lang = self.badwords_lang or self.lang or "en"
        return ([f"ldnoobw_{lang}"] if self.badwords and lang in LDNOOBW_LANGUAGES else []) + (
            [self.badwords_file] if self.badwords_file else [])

    def _badwords_re(self, lang: str) -> re.Pattern | None:
        if lang not in self._badwords:
            from roots.data.lists import load_list

            words: set[str] = set()
            if self.badwords and lang in LDNOOBW_LANGUAGES:
                words |= load_list(f"ldnoobw_{lang}")
            if self.badwords_file:
                words |= load_list(self.badwords_file)
            words = {w.strip().lower() for w in words} - _BADWORDS_ALLOWED - {""}
            alternation = "|".join(map(re.escape, sorted(words)))
            self._badwords[lang] = None if not words else (
                re.compile(alternation) if lang in ("ja", "th", "zh")
                else re.compile(r"(?:\W|^)(?:" + alternation + r")(?:\W|$)"))
        return self._badwords[lang]

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
        if self.badwords or self.badwords_file:
            pattern = self._badwords_re(self.badwords_lang or self.lang or doc.metadata.get("lang") or "en")
            if pattern is not None and pattern.search(text.lower()):
                return "c4_badwords"
        if text != doc.text:  # an untouched document keeps its shared analysis
            doc.text = text
        return None
