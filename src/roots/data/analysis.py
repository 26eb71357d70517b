"""Per-document text analysis shared by every filter: computed once, reused by the whole chain.

Each accessor memoizes its result on the document (`doc.cached`), keyed by the current text, so a
chain of filters splits a document into words, lines and paragraphs once, and a step that edits the
text (line-wise corrections, C4 line removal) invalidates everything automatically.

Definitions roots pins (RECIPES.md §2 "known divergence"; each is tested):
- word: a maximal run of word characters (letters, digits, "_"), optionally joined by an inner apostrophe, hyphen or
  period ("don't", "e-mail", "3.14", "U.S"). Punctuation and symbols are never words, so "Hello,
  world!" has 2 words. This is tokenizer-free (no NLTK/spaCy), language-agnostic for space-separated
  scripts, and fast (one compiled regex in C). Chinese and Japanese runs are segmented further
  (`roots.data.words`): the language is the step's `lang`, else the document's `metadata["lang"]`.
- line: a non-blank line of the text, with surrounding whitespace removed. Blank lines separate
  paragraphs; they are not lines.
- paragraph: a block of text between blank lines (lines holding only whitespace), stripped.
- word n-gram statistics (Gopher repetition) are computed on integer word ids with numpy: each
  n-gram gets a 64-bit hash (a fixed random linear combination of its ids, mod 2^64), so counting
  needs neither string joins nor Python loops over n-grams.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from roots.data import words as _words
from roots.data.document import Document

WORD_RE = _words.WORD_RE
_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
MAX_NGRAM = 16
# one odd 64-bit multiplier per n-gram position (a fixed seed: results are reproducible)
_HASH_BASES = np.random.default_rng(0x5EED).integers(0, 2**63, size=MAX_NGRAM, dtype=np.uint64) * 2 + 1


def split_words(text: str, lang: str | None = None) -> list[str]:
    """Words as defined in the module docstring (`lang`: see `roots.data.words`)."""
    return _words.split_words(text, lang)


def word_lang(doc: Document, lang: str | None = None) -> str:
    """The splitter language of a step on `doc`: its own `lang`, else the document's; "" = by spaces."""
    lang = _words.base_lang(lang or doc.metadata.get("lang"))
    return lang if lang in _words.segmented_languages() else ""


def split_lines(text: str) -> list[str]:
    """Non-blank lines, stripped."""
    return [s for line in text.split("\n") if (s := line.strip())]


def split_paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, stripped; none for a blank text."""
    text = text.strip()
    return [p.strip() for p in _BLANK_LINE_RE.split(text)] if text else []


def words(doc: Document, lang: str | None = None) -> list[str]:
    """The document's words, split once per text (and per segmented language)."""
    lang = word_lang(doc, lang)
    return doc.cached(f"words{lang}", lambda t: split_words(t, lang))


def lines(doc: Document) -> list[str]:
    return doc.cached("lines", split_lines)


def paragraphs(doc: Document) -> list[str]:
    return doc.cached("paragraphs", split_paragraphs)


def word_lengths(doc: Document, lang: str | None = None) -> np.ndarray:
    """(n_words,) int64 character length of each word."""
    ws = words(doc, lang)
    return doc.cached(f"word_lengths{word_lang(doc, lang)}", lambda _: np.fromiter(map(len, ws), np.int64, len(ws)))


def _word_ids(doc: Document, lang: str | None) -> np.ndarray:
    def compute(_: str) -> np.ndarray:
        ws = words(doc, lang)
        vocab = {w: i for i, w in enumerate(dict.fromkeys(ws))}  # word -> id in order of appearance
        return np.fromiter(map(vocab.__getitem__, ws), np.uint64, len(ws))

    return doc.cached(f"word_ids{word_lang(doc, lang)}", compute)


@dataclass(frozen=True)
class NGramStats:
    """Gopher repetition measures for one n, in characters of words (separators not counted).

    top_chars: occurrences x characters of the most frequent n-gram (ties: the longest one); 0 when no
      n-gram occurs twice (a lone long n-gram is not repetition; datatrove counts it).
    dup_chars: characters of the words covered by a *repeated* occurrence of an n-gram (one that already
      occurred earlier in the document); a word covered by several overlapping repeats counts once.
    """

    top_chars: int
    dup_chars: int


def ngram_stats(doc: Document, n: int, lang: str | None = None) -> NGramStats:
    """Word n-gram repetition measures, computed lazily per n and cached."""
    key = f"ngrams_{n}{word_lang(doc, lang)}"
    return doc.cached(key, lambda _: _ngram_stats(_word_ids(doc, lang), word_lengths(doc, lang), n))


def _ngram_stats(ids: np.ndarray, lengths: np.ndarray, n: int) -> NGramStats:
    count = len(ids) - n + 1
    if count <= 0:
        return NGramStats(0, 0)
    # (count,) hash of each n-gram: sum_k ids[i + k] * base_k  (uint64 arithmetic wraps: mod 2^64)
    hashes = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        hashes += ids[k : k + count] * _HASH_BASES[k]
    # one stable sort groups equal n-grams, earliest occurrence first within each group
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    same = sorted_hashes[1:] == sorted_hashes[:-1]  # (count - 1,) equal to the previous one
    repeated = order[1:][same]  # occurrences of an n-gram that already occurred earlier
    if len(repeated) == 0:
        return NGramStats(0, 0)
    cum = np.concatenate(([0], np.cumsum(lengths)))
    chars = cum[n : n + count] - cum[:count]  # (count,) characters of each n-gram occurrence
    group_starts = np.flatnonzero(np.concatenate(([True], ~same)))
    group_sizes = np.diff(np.append(group_starts, count))
    top = group_sizes.max()
    top_chars = int(top * chars[order[group_starts[group_sizes == top]]].max())
    # mark the words covered by repeated occurrences with a difference array: +1 at start, -1 at end
    size = len(ids) + 1
    cover = np.bincount(repeated, minlength=size) - np.bincount(repeated + n, minlength=size)
    covered = np.cumsum(cover[:-1]) > 0
    return NGramStats(top_chars, int(lengths[covered].sum()))


def duplicate_stats(items: list[str]) -> tuple[int, int]:
    """(number, characters) of items that repeat an earlier item (the first occurrence is not counted)."""
    seen: set[str] = set()
    n_dup = dup_chars = 0
    for item in items:
        if item in seen:
            n_dup += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return n_dup, dup_chars


def line_duplicates(doc: Document) -> tuple[int, int]:
    return doc.cached("line_duplicates", lambda _: duplicate_stats(lines(doc)))


def paragraph_duplicates(doc: Document) -> tuple[int, int]:
    return doc.cached("paragraph_duplicates", lambda _: duplicate_stats(paragraphs(doc)))
