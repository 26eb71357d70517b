"""Text -> words -> hashed shingles: the part every dedup method shares.

Shingles are word n-grams. Each word is hashed once (xxh3-64); an n-gram's hash is a polynomial
combination of its word hashes computed for all positions at once in numpy, then passed through a
64-bit finalizer so that every bit is usable (MinHash permutations, SimHash bits, LSH keys).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal

import numpy as np
import xxhash

Normalization = Literal["none", "lower", "full"]

_PUNCT = re.compile(r"[^\w\s]+")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]{0,10}(?:\s[^<>]{0,200})?/?>")  # markup left by extraction: <t>, <br/>
_DIGITS = re.compile(r"\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_SPACE = re.compile(r"\s")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # accents after NFD
_MULT = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio odd constant: position weights of the n-gram polynomial


def normalize(text: str, mode: Normalization = "full") -> str:
    """Canonical form of a text before shingling.

    none: as is. lower: lowercase. full (the FineWeb/datatrove `simplify_text` choice, plus markup):
    markup tags removed, lowercase, accents stripped (NFD), punctuation removed, digits mapped to 0.
    Whitespace never matters: shingles are made of the words.
    """
    if mode == "none":
        return text
    text = text.lower()
    if mode == "lower":
        return text
    text = _TAG.sub(" ", text)
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    text = _PUNCT.sub(" ", text)
    return _DIGITS.sub("0", text)


def _ascii_table() -> bytes:
    """`normalize(mode="full")` for one ASCII byte, as a bytes.translate table (other bytes unchanged)."""
    out = bytearray(range(256))
    for b in range(128):
        c = chr(b)
        out[b] = 32 if c.isspace() or _PUNCT.match(c) else ord("0") if c.isdigit() else ord(c.lower())
    return bytes(out)


_ASCII_FULL = _ascii_table()


def words(text: str, mode: Normalization = "full") -> list[str]:
    return normalize(text, mode).split()


@functools.lru_cache(maxsize=1 << 16)
def _normalize_run(run: str) -> str:
    # normalization is per character here (after whole-text lowercasing), so a run of non-ASCII
    # characters can be normalized alone; Unicode spaces become " " so that bytes.split sees them.
    # Runs repeat a lot (quotes, dashes, accented words): hence the cache.
    return _SPACE.sub(" ", normalize(run, "full"))


def _normalize_non_ascii(m: re.Match) -> str:
    return _normalize_run(m.group())


def _full_words_utf8(text: str) -> list[bytes]:
    """`words(text, "full")` as UTF-8 bytes, fast: runs of non-ASCII characters are normalized with
    the Unicode rules, then one bytes.translate normalizes every ASCII byte and bytes.split cuts."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if not text.isascii():  # lowercase the whole text first: Greek final sigma depends on context
        text = _NON_ASCII.sub(_normalize_non_ascii, text.lower())
    return text.encode("utf-8", "surrogatepass").translate(_ASCII_FULL).split()


def _utf8(items: list[str] | list[bytes]) -> list[bytes]:
    # xxhash >= 4 hashes bytes only; 3.x hashed a str as its UTF-8 bytes, so the hashes are the same
    if items and isinstance(items[0], str):
        return [s.encode("utf-8", "surrogatepass") for s in items]
    return items  # type: ignore[return-value]


def hash_words(tokens: list[str] | list[bytes]) -> np.ndarray:
    """(n,) uint64 hash per word (a str hashes as its UTF-8 bytes)."""
    return np.fromiter(map(xxhash.xxh3_64_intdigest, _utf8(tokens)), dtype=np.uint64, count=len(tokens))


def word_hashes(text: str, mode: Normalization = "full") -> np.ndarray:
    """`hash_words(words(text, mode))`, with a fast path for the full normalization."""
    return hash_words(_full_words_utf8(text) if mode == "full" else words(text, mode))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64 that spreads every input bit over every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """(max(len - n + 1, 1),) uint64 hashes of the word n-grams; empty input gives an empty array.

    A text shorter than n words is one shingle (all its words), so short documents still compare.
    """
    count = len(word_hashes)
    if count == 0:
        return word_hashes[:0]
    m = max(count - n + 1, 1)
    with np.errstate(over="ignore"):
        acc = np.zeros(m, dtype=np.uint64)
        for k in range(min(n, count)):  # acc = sum_k w[i+k] * MULT^(k+1), mod 2^64
            acc = (acc + word_hashes[k:k + m]) * _MULT
        return mix64(acc)


def text_shingles(text: str, n: int, mode: Normalization = "full") -> np.ndarray:
    """Hashed word n-grams of `text` after normalization (empty for a text without words)."""
    return shingle_hashes(word_hashes(text, mode), n)


def hash_str(s: str) -> int:
    """Stable 64-bit hash of a string (document ids, urls, texts)."""
    return xxhash.xxh3_64_intdigest(s.encode("utf-8", "surrogatepass"))


def hash_ids(ids: list[str]) -> np.ndarray:
    return np.fromiter(map(xxhash.xxh3_64_intdigest, _utf8(ids)), dtype=np.uint64, count=len(ids))
