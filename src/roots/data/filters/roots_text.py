"""What the ROOTS steps share: per-language parameters, character sets, word splitting, word lists.

Definitions follow BigScience's data-preparation repository
(preprocessing/training/01b_oscar_cleaning_and_filtering/filtering.py), RECIPES.md §3. Word splits are
memoized on the document with `doc.cached`, so a chain of ROOTS filters splits each text once.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import yaml

from roots.common.errors import UserError
from roots.data import words as lang_words
from roots.data.document import Document

PARAMETERS_FILE = "roots_parameters.yaml"


@dataclass(frozen=True)
class RootsParams:
    """One language's row of RECIPES.md §3.3 (resources/roots_parameters.yaml says which upstream key)."""

    lang: str
    min_words: int
    max_words: int
    long_word_max: int | None  # None: long words are kept (upstream cond_remove_long_words = False)
    remove_url_words: bool
    char_rep_n: int
    char_rep_max: float
    word_rep_n: int
    word_rep_max: float
    special_max: float
    stopwords_min: float
    flagged_max: float
    lang_id_min: float
    perplexity_max: float
    augment_sizes: tuple[int, ...] = ()
    augment_join: str = ""


@functools.cache
def _table() -> dict:
    with files("roots.data").joinpath("resources", PARAMETERS_FILE).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def languages() -> list[str]:
    """Languages with their own parameters (plus "default")."""
    return list(_table()["languages"])


@functools.cache
def roots_params(lang: str) -> RootsParams:
    """Parameters of `lang`; a language without a row uses the `default` row, as upstream does."""
    rows = _table()["languages"]
    row = {**rows["default"], **rows.get(lang, {})}
    row["augment_sizes"] = tuple(row.get("augment_sizes", ()))
    return RootsParams(lang=lang, **row)


def url_substrings() -> tuple[str, ...]:
    return tuple(_table()["url_substrings"])


@functools.cache
def special_characters(with_emoji: bool = True) -> frozenset[str]:
    """Punctuation, digits, whitespace, the listed symbols and (when `emoji` is installed) emoji.

    Used both for the special-character ratio (filter 4) and as the characters stripped from the ends
    of words. Only single-code-point emoji are kept: both uses look at one character at a time.
    """
    chars = _table()["special_characters"]
    out = set("".join(chars["main"])) | set("".join(chars["other"]))
    if with_emoji:
        try:
            import emoji
        except ImportError:  # the documented gap: without the package, emoji are ordinary characters
            pass
        else:
            out.update(e for e in emoji.EMOJI_DATA if len(e) == 1)
    return frozenset(out)


# ------------------------------------------------------------------------------------ normalization

# Characters 0-31 and 127-159 (cc_net's non-printing set); "\n" goes too, so apply per line when
# lines matter.
NON_PRINTING = re.compile("[" + "".join(map(chr, [*range(32), *range(127, 160)])) + "]")
DIGITS = re.compile(r"\d")
# cc_net / ROOTS unicode punctuation map (normalization.py `unicode_punctuation`)
UNICODE_PUNCTUATION = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...",
    "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}  # fmt: skip
_PUNCT_TABLE = str.maketrans(UNICODE_PUNCTUATION)
# Upstream lists string.whitespace plus eleven Unicode spaces and U+FFFC; roots takes every character
# Python calls whitespace (a superset of those) plus the zero-width space and the object replacement.
_SPACES = re.compile(r"[\s\u200b\ufffc]")


def uniform_whitespace(text: str, keep_newlines: bool = False) -> str:
    """Every kind of space becomes " " (upstream turns newlines into spaces too; `keep_newlines` not)."""
    if keep_newlines:
        return "\n".join(_SPACES.sub(" ", line) for line in text.split("\n"))
    return _SPACES.sub(" ", text)


def normalize_for_lm(line: str) -> str:
    """ROOTS/cc_net normalization of one line before n-gram LM training and scoring.

    strip, uniform whitespace, drop non-printing characters, lowercase, digits -> 0, unicode
    punctuation -> ASCII (ModifyingDocuments.normalization with every option on).
    """
    line = NON_PRINTING.sub("", uniform_whitespace(line.strip()))
    if not line:
        return line
    return DIGITS.sub("0", line.lower()).translate(_PUNCT_TABLE)


def normalize_for_pieces(text: str, lowercase: bool = False) -> str:
    """BigScience's normalization before SentencePiece + KenLM scoring (ac_dc filtering.py, the ROOTS
    filters): non-printing characters removed first (so newlines vanish and lines join), strip, case kept
    (`lowercase` for the older OSCAR variant), uniform whitespace, digits -> 0, unicode punctuation -> ASCII.
    """
    text = NON_PRINTING.sub("", text).strip()
    if not text:
        return text
    if lowercase:
        text = text.lower()
    return DIGITS.sub("0", uniform_whitespace(text)).translate(_PUNCT_TABLE)


_LM_TOKEN = re.compile(r"\w+|[^\w\s]+")


def lm_tokens(line: str, lang: str | None = None) -> list[str]:
    """Tokens of a normalized line: words and runs of punctuation (zh, ja: words segmented).

    Upstream scores SentencePiece pieces; roots' LM is word-level, and splitting punctuation off words
    keeps "word," and "word" the same token.
    """
    tokens = _LM_TOKEN.findall(line)
    if lang_words.segmenter(lang) is None:
        return tokens
    return [piece for token in tokens for piece in lang_words.segment(token, lang)]


# ------------------------------------------------------------------------------------------- words

_WORD_SEP = re.compile("[ \n\t]")


def strip_chars(word: str, chars: frozenset[str]) -> str:
    """`word` without leading and trailing characters from `chars` (a set: it holds ~1,600 emoji)."""
    start, end = 0, len(word)
    while start < end and word[start] in chars:
        start += 1
    while end > start and word[end - 1] in chars:
        end -= 1
    return word[start:end]


def split_words(text: str, lower: bool, lang: str | None = None) -> list[str]:
    """Upstream get_words_from_document: split on space/newline/tab, (lowercase,) strip special chars.

    Languages written without spaces (zh, ja; upstream `tokenization: true` for zh, with a SentencePiece
    model) have each whitespace token segmented into words first (`roots.data.words`).
    """
    chars = special_characters()
    tokens: Iterable[str] = (w for w in _WORD_SEP.split(text) if w)
    if lang_words.segmenter(lang) is not None:
        tokens = (piece for w in tokens for piece in lang_words.segment(w, lang))
    words = (w.lower() if lower else w for w in tokens)
    return [s for s in (strip_chars(w, chars) for w in words) if s]


def _key(name: str, lang: str | None) -> str:
    return name + (lang_words.base_lang(lang) if lang_words.segmenter(lang) is not None else "")


def words(doc: Document, lang: str | None = None) -> list[str]:
    """Words as counted by the word-count filter (case kept)."""
    return doc.cached(_key("roots_words", lang), lambda t: split_words(t, lower=False, lang=lang))


def lower_words(doc: Document, lang: str | None = None) -> list[str]:
    """Words as used by the repetition, stop-word and flagged-word filters (lowercased, then stripped)."""
    return doc.cached(_key("roots_lower_words", lang), lambda t: split_words(t, lower=True, lang=lang))


def ratio_in_list(doc: Document, wordset: frozenset[str], params: RootsParams) -> float:
    """Upstream stop/flagged-word ratio: matches among words (+ augmentations) / words, capped at 1."""
    ws = lower_words(doc, params.lang)
    if not ws:
        return 0.0
    candidates = lang_words.augment_words(ws, params.augment_sizes, params.augment_join) if params.augment_sizes else ws
    return min(1.0, sum(w in wordset for w in candidates) / len(ws))


# -------------------------------------------------------------------------------------- word lists


def read_word_list(path: str | Path, lang: str, option: str) -> frozenset[str]:
    """A user word list: a text file (one word per line) or JSON (a list, or {lang: list})."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{option}: file not found: {path}")
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            if lang not in data:
                raise UserError(f"{option}: {path} has no list for {lang!r} (it has {sorted(data)})")
            data = data[lang]
        if not isinstance(data, list):
            raise UserError(f"{option}: {path} must hold a JSON list of words or a {{lang: [words]}} mapping")
        entries: Iterable[str] = map(str, data)
    else:
        entries = path.read_text(encoding="utf-8").splitlines()
    wordset = frozenset(w.strip().lower() for w in entries if w.strip())
    if not wordset:
        raise UserError(f"{option}: {path} holds no words")
    return wordset


BIGSCIENCE_KINDS = ("stopwords", "flagged_words")


@functools.cache
def _bigscience_lists(kind: str) -> dict[str, list[str]]:
    if kind not in BIGSCIENCE_KINDS:
        raise UserError(f"BigScience word lists are {', '.join(BIGSCIENCE_KINDS)}; got {kind!r}")
    data = files("roots.data").joinpath("resources", "bigscience", f"{kind}.json.gz").read_bytes()
    return json.loads(gzip.decompress(data))


def bigscience_languages(kind: str) -> list[str]:
    """Languages BigScience has a `kind` list for (the 13 ROOTS languages)."""
    return sorted(_bigscience_lists(kind))


def bigscience_list(kind: str, lang: str) -> frozenset[str] | None:
    """BigScience's `kind` ("stopwords" or "flagged_words") list for `lang`, entries exactly as upstream.

    Shipped in resources/bigscience/ (Apache-2.0, attribution in its README.md), read on first use. None
    when BigScience has no list for the language: upstream then skips the check, and so do the filters.
    """
    words = _bigscience_lists(kind).get(lang_words.base_lang(lang))
    return None if words is None else frozenset(words)


def packaged_stopwords(lang: str) -> frozenset[str]:
    """Stop words of `lang` from the `stopwordsiso` package (stopwords-iso, all 13 ROOTS languages)."""
    try:
        import stopwordsiso
    except ImportError as e:
        raise UserError(
            "roots_stopwords needs a stop-word list: pip install stopwordsiso (the `curate` extra) "
            "or pass stopwords_file=PATH"
        ) from e
    if not stopwordsiso.has_lang(lang):
        raise UserError(f"roots_stopwords: no packaged stop-word list for {lang!r}; pass stopwords_file=PATH")
    return frozenset(w.lower() for w in stopwordsiso.stopwords(lang))



def packaged_flagged_words_en() -> frozenset[str]:
    """English flagged words: the single-word entries of better-profanity's list (the `curate` extra)."""
    try:
        from importlib.resources import files

        text = (files("better_profanity") / "profanity_wordlist.txt").read_text(encoding="utf-8")
    except (ImportError, ModuleNotFoundError, FileNotFoundError) as e:
        raise UserError(
            "roots_flagged_words: pip install better-profanity (the `curate` extra) for the default English "
            "list, or pass flagged_words_file=PATH"
        ) from e
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and " " not in w.strip())
