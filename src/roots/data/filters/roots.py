"""ROOTS (BigScience) editing step and document filters, RECIPES.md §3.1-3.2.

Each step takes `lang` (default "en") and reads its thresholds from the per-language table
(resources/roots_parameters.yaml, §3.3); a field set explicitly overrides the table. Definitions match
BigScience's data-preparation repository (01b_oscar_cleaning_and_filtering/filtering.py); the few
places where roots differs say so in their docstrings.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roots.common.errors import UserError
from roots.data.base import Filter, Step
from roots.data.document import Document
from roots.data.filters.roots_text import (
    NON_PRINTING,
    bigscience_list,
    lower_words,
    packaged_flagged_words_en,
    packaged_stopwords,
    ratio_in_list,
    read_word_list,
    roots_params,
    special_characters,
    strip_chars,
    uniform_whitespace,
    url_substrings,
    words,
)

log = logging.getLogger(__name__)


def _or(value, default):
    return default if value is None else value


def _check_exists(path: str | None, option: str) -> None:
    """Fail when the recipe is built, not per document, when a named file is missing."""
    if path is not None and not Path(path).exists():
        raise UserError(f"{option}: not found: {path}")


# ------------------------------------------------------------------------------------------ editing


@dataclass
class RootsEdit(Step):
    """§3.1: normalize whitespace, drop words holding a URL piece, drop words over the long-word max.

    As upstream, the text is stripped, every whitespace becomes a space and non-printing characters
    go, so the document becomes one line; `keep_newlines: true` keeps its lines instead (a roots
    option, not in the reference). A word is judged after stripping special characters from its ends:
    "(see" is not long, "www.x.org," holds "www". URL substrings match case-sensitively, as upstream.
    """

    name = "roots_edit"
    lang: str = "en"
    long_word_max: int | None = None  # default: the language's; 0 keeps long words
    remove_url_words: bool | None = None  # default: the language's (off for "default" and zh)
    keep_newlines: bool = False

    def __post_init__(self) -> None:
        p = roots_params(self.lang)
        self.long_word_max = _or(self.long_word_max, p.long_word_max or 0)
        self.remove_url_words = _or(self.remove_url_words, p.remove_url_words)

    def _keep(self, word: str, chars: frozenset[str], substrings: tuple[str, ...]) -> bool:
        stripped = None
        if self.remove_url_words:
            stripped = strip_chars(word, chars)
            if any(s in stripped for s in substrings):
                return False
        if self.long_word_max and len(word) > self.long_word_max:
            stripped = strip_chars(word, chars) if stripped is None else stripped
            # a long token that is a word glued to punctuation ("end.Next") gets a pass once stripped
            return 0 < len(stripped) <= self.long_word_max
        return True

    def process(self, doc: Document) -> str | None:
        chars, substrings = special_characters(), url_substrings()
        text = uniform_whitespace(doc.text.strip(), keep_newlines=self.keep_newlines)
        lines = []
        for line in text.split("\n"):
            kept = [w for w in NON_PRINTING.sub("", line).split(" ") if w and self._keep(w, chars, substrings)]
            if kept:
                lines.append(" ".join(kept))
        doc.text = "\n".join(lines)
        return None if doc.text else "roots_edit_empty"


# ------------------------------------------------------------------------------------------ filters


@dataclass
class RootsWordCount(Filter):
    """§3.2 filter 1: min_words <= number of words <= max_words (words as upstream get_words_from_document)."""

    name = "roots_word_count"
    lang: str = "en"
    min_words: int | None = None
    max_words: int | None = None

    def __post_init__(self) -> None:
        p = roots_params(self.lang)
        self.min_words = _or(self.min_words, p.min_words)
        self.max_words = _or(self.max_words, p.max_words)

    def filter(self, doc: Document) -> str | None:
        n = len(words(doc, self.lang))
        if n < self.min_words:
            return "roots_too_few_words"
        if n > self.max_words:
            return "roots_too_many_words"
        return None


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of the character n-gram occurrences taken by the k most frequent n-grams.

    k = min(floor(sqrt(#distinct n-grams)), #n-grams occurring more than once), so a text without
    repeated n-grams scores 0 (§3.2 filter 2).
    """
    freqs = Counter(text[i:i + n] for i in range(len(text) - n + 1))
    if not freqs:
        return 0.0
    repeated = sum(1 for f in freqs.values() if f > 1)
    k = min(math.isqrt(len(freqs)), repeated)
    return sum(heapq.nlargest(k, freqs.values())) / sum(freqs.values())


@dataclass
class RootsCharRepetition(Filter):
    """§3.2 filter 2: character n-gram repetition ratio (n=10; 3 for zh) <= max_ratio, on the raw text."""

    name = "roots_char_repetition"
    lang: str = "en"
    n: int | None = None
    max_ratio: float | None = None

    def __post_init__(self) -> None:
        p = roots_params(self.lang)
        self.n = _or(self.n, p.char_rep_n)
        self.max_ratio = _or(self.max_ratio, p.char_rep_max)

    def filter(self, doc: Document) -> str | None:
        ratio = char_repetition_ratio(doc.text, self.n)
        return "roots_char_repetition" if ratio > self.max_ratio else None


def word_repetition_ratio(words_: list[str], n: int) -> float:
    """Fraction of word n-gram occurrences whose n-gram occurs more than once (§3.2 filter 3)."""
    freqs = Counter(" ".join(words_[i:i + n]) for i in range(len(words_) - n + 1))
    if not freqs:
        return 0.0
    return sum(f for f in freqs.values() if f > 1) / sum(freqs.values())


@dataclass
class RootsWordRepetition(Filter):
    """§3.2 filter 3: word n-gram repetition ratio (n=5; 7 for ur) <= max_ratio, on lowercased words."""

    name = "roots_word_repetition"
    lang: str = "en"
    n: int | None = None
    max_ratio: float | None = None

    def __post_init__(self) -> None:
        p = roots_params(self.lang)
        self.n = _or(self.n, p.word_rep_n)
        self.max_ratio = _or(self.max_ratio, p.word_rep_max)

    def filter(self, doc: Document) -> str | None:
        ratio = word_repetition_ratio(lower_words(doc, self.lang), self.n)
        return "roots_word_repetition" if ratio > self.max_ratio else None


def special_characters_ratio(text: str) -> float:
    """Fraction of characters that are punctuation, digits, whitespace, listed symbols or emoji."""
    if not text:
        return 0.0
    chars = special_characters()
    return sum(c in chars for c in text) / len(text)


@dataclass
class RootsSpecialCharacters(Filter):
    """§3.2 filter 4: special-character ratio <= max_ratio."""

    name = "roots_special_characters"
    lang: str = "en"
    max_ratio: float | None = None

    def __post_init__(self) -> None:
        self.max_ratio = _or(self.max_ratio, roots_params(self.lang).special_max)

    def filter(self, doc: Document) -> str | None:
        return "roots_special_characters" if special_characters_ratio(doc.text) > self.max_ratio else None


def _lists_used(kind: str, lang: str, user_file: str | None, bigscience: bool) -> list[str]:
    """roots.data.lists names (or the user's file) a ROOTS word-list step reads, for run.json."""
    from roots.data.lists import LISTS

    if user_file:
        return [user_file]
    name = f"bigscience_{kind}_{lang}"
    return [name] if bigscience and name in LISTS else []


def _bigscience_or_skip(kind: str, lang: str, step: str) -> frozenset[str] | None:
    words = bigscience_list(kind, lang)
    if words is None:
        log.warning("%s: BigScience has no %s list for %r, so the step keeps every document (as "
                    "upstream); set %s_file=PATH to check it", step, kind.replace("_", "-"), lang, kind)
    return words


@dataclass
class RootsStopwords(Filter):
    """§3.2 filter 5: stop-word ratio >= min_ratio (zh, vi: adjacent-word pairs are matched too).

    The list is `stopwords_file` (one word per line, or JSON) or else `wordlist`: "bigscience" (default;
    BigScience's own list, shipped with roots, the one the ROOTS thresholds were tuned on; a language
    without one keeps every document, as upstream) or "stopwordsiso" (the `stopwordsiso` package's
    list: longer, en 1,298 words vs 301, so the filter is more lenient).
    """

    name = "roots_stopwords"
    lang: str = "en"
    min_ratio: float | None = None
    stopwords_file: str | None = None
    wordlist: Literal["bigscience", "stopwordsiso"] = "bigscience"

    def __post_init__(self) -> None:
        self.min_ratio = _or(self.min_ratio, roots_params(self.lang).stopwords_min)
        _check_exists(self.stopwords_file, "roots_stopwords.stopwords_file")
        if self.wordlist not in ("bigscience", "stopwordsiso"):
            raise UserError(f"roots_stopwords.wordlist must be bigscience or stopwordsiso, got {self.wordlist!r}")
        self._words: frozenset[str] | None = None
        self._ready = False

    def lists(self) -> list[str]:
        return _lists_used("stopwords", self.lang, self.stopwords_file, self.wordlist == "bigscience")

    def setup(self) -> None:
        self._ready = True
        if self.stopwords_file:
            self._words = read_word_list(self.stopwords_file, self.lang, "roots_stopwords.stopwords_file")
        elif self.wordlist == "stopwordsiso":
            self._words = packaged_stopwords(self.lang)
        else:
            self._words = _bigscience_or_skip("stopwords", self.lang, self.name)

    def filter(self, doc: Document) -> str | None:
        if not self._ready:
            self.setup()
        if self._words is None:
            return None
        ratio = ratio_in_list(doc, self._words, roots_params(self.lang))
        return "roots_few_stopwords" if ratio < self.min_ratio else None


@dataclass
class RootsFlaggedWords(Filter):
    """§3.2 filter 6: flagged-word ratio <= max_ratio.

    The list is `flagged_words_file` (one word per line, or JSON: a list or {lang: [words]}) or else
    `wordlist`: "bigscience" (default; BigScience's own list for the language, shipped with roots: the 68
    English porn-focused words plus the language's own; a language without one keeps every document,
    as upstream) or "better-profanity" (English only: the single-word entries of better-profanity's
    list, broader swearing coverage).
    """

    name = "roots_flagged_words"
    lang: str = "en"
    max_ratio: float | None = None
    flagged_words_file: str | None = None
    wordlist: Literal["bigscience", "better-profanity"] = "bigscience"

    def __post_init__(self) -> None:
        self.max_ratio = _or(self.max_ratio, roots_params(self.lang).flagged_max)
        _check_exists(self.flagged_words_file, "roots_flagged_words.flagged_words_file")
        if self.wordlist not in ("bigscience", "better-profanity"):
            raise UserError("roots_flagged_words.wordlist must be bigscience or better-profanity, "
                            f"got {self.wordlist!r}")
        if self.wordlist == "better-profanity" and self.lang != "en" and not self.flagged_words_file:
            raise UserError(f"roots_flagged_words: better-profanity is an English list (lang is {self.lang!r}); "
                            "use wordlist: bigscience or flagged_words_file=PATH")
        self._words: frozenset[str] | None = None
        self._ready = False

    def lists(self) -> list[str]:
        return _lists_used("flagged_words", self.lang, self.flagged_words_file, self.wordlist == "bigscience")

    def setup(self) -> None:
        self._ready = True
        if self.flagged_words_file:
            self._words = read_word_list(self.flagged_words_file, self.lang,
                                         "roots_flagged_words.flagged_words_file")
        elif self.wordlist == "better-profanity":
            self._words = packaged_flagged_words_en()
        else:
            self._words = _bigscience_or_skip("flagged_words", self.lang, self.name)

    def filter(self, doc: Document) -> str | None:
        if not self._ready:
            self.setup()
        if self._words is None:
            return None
        ratio = ratio_in_list(doc, self._words, roots_params(self.lang))
        return "roots_flagged_words" if ratio > self.max_ratio else None


@dataclass
class RootsPerplexity(Filter):
    """§3.2 filter 8: perplexity under an n-gram LM (`roots lm train`) <= max_perplexity.

    ppl = 10^(-sum log10 p / sum (tokens + 1)) over the document's normalized, non-empty lines,
    rounded to 0.1 as upstream; the score is kept in `metadata["perplexity"]`. Without a model the step
    cannot run: the recipe fails before any work, or, marked `optional: true` (the roots recipe), the step
    is flagged NOT APPLIED in stats.json, run.json, the report and the CLI summary.
    `backend: auto` scores with KenLM when the `kenlm` module is importable (same ARPA file, same
    numbers to float32 precision), else with roots' own scorer (ARPA files; a KenLM binary needs kenlm).

    BigScience's own models load as they are: `model` a folder in the edugp/kenlm layout ({lang}.arpa.bin
    or {lang}.arpa + {lang}.sp.model), or a model file with `sp_model`, or a `roots lm train
    --sentencepiece-vocab N` folder; documents are then scored over SentencePiece pieces as BigScience did
    (roots.data.lm.PieceScorer), so the published cutoffs of §3.3 apply. A word-level roots LM scores
    normalized words instead, and its perplexities are not on the published scale.
    """

    name = "roots_perplexity"
    lang: str = "en"
    model: str | None = None  # "{lang}" in the path is replaced by the step's language (lms/{lang})
    max_perplexity: float | None = None
    backend: Literal["auto", "roots", "kenlm"] = "auto"
    sp_model: str | None = None  # a SentencePiece model for `model` (found by itself in the edugp layout)

    def __post_init__(self) -> None:
        self.max_perplexity = _or(self.max_perplexity, roots_params(self.lang).perplexity_max)
        _check_exists(self.sp_model, "roots_perplexity.sp_model")
        if self.model is not None and "{lang}" in self.model:
            self.model = self.model.replace("{lang}", self.lang)
            if not Path(self.model).exists():  # no LM for this language: no check, as upstream
                log.warning("roots_perplexity: no n-gram LM for %r at %s; its documents are not scored",
                            self.lang, self.model)
                self.model = None
        _check_exists(self.model, "roots_perplexity.model")
        self._lm = None
        self._ready = False

    def missing_inputs(self) -> str | None:
        if self.model is None:
            return ("no n-gram LM to score with; pass --set roots_perplexity.model=PATH (train one with "
                    "`roots lm train --input REFERENCE --output LM`)")
        return None

    def setup(self) -> None:
        self._ready = True
        if self.model is None:
            return
        from roots.data.lm import load_scorer

        self._lm = load_scorer(self.model, self.backend, lang=self.lang, sp_model=self.sp_model)

    def filter(self, doc: Document) -> str | None:
        if not self._ready:
            self.setup()
        if self._lm is None:
            return None
        ppl = round(self._lm.document_perplexity(doc.text), 1)
        doc.metadata["perplexity"] = ppl
        return "roots_perplexity" if ppl > self.max_perplexity else None
