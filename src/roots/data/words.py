"""One word splitter per language: every filter and the n-gram LM split words here.

Space-separated languages keep one compiled regex (a word is a run of word characters, optionally joined
by an inner apostrophe, hyphen or period). Languages written without spaces segment the runs of their
script with a dictionary segmenter, so a Chinese clause is many words, not one:

- zh: rjieba (jieba-rs, the Rust port of jieba; datatrove/FineWeb-2 use jieba through spaCy)
- ja: tinysegmenter (pure Python, no dictionary download)

Only runs holding characters of the segmented script go through the segmenter; embedded Latin words,
numbers and punctuation are handled exactly as in space-separated text. A missing segmenter is a one-line
error naming the package. `augment_words` adds BigScience's word groups (zh, vi: adjacent words joined)
for list matching.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from roots.common.errors import UserError

WORD_RE = re.compile(r"\w+(?:['’.\-]\w+)*")
# CJK ideographs (+ extension A, compatibility), kana; a run holding one of them goes to the segmenter
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_SCRIPTS = {"zh": re.compile(f"[{_HAN}]"), "ja": re.compile(f"[{_HAN}{_KANA}]")}
_PACKAGES = {"zh": "rjieba", "ja": "tinysegmenter"}

Splitter = Callable[[str], list[str]]


def base_lang(lang: str | None) -> str:
    """"zh-Hans", "zh_TW", "ZH" -> "zh"; None -> "" (no language: the space-separated rule)."""
    return re.split(r"[-_]", lang, maxsplit=1)[0].lower() if lang else ""


def segmented_languages() -> tuple[str, ...]:
    """Languages whose words come from a segmenter rather than from spaces."""
    return tuple(_SCRIPTS)


@functools.cache
def segmenter(lang: str | None) -> Splitter | None:
    """The raw segmenter of `lang` (every piece, punctuation and spaces included), None if spaces suffice."""
    lang = base_lang(lang)
    if lang not in _SCRIPTS:
        return None
    try:
        if lang == "zh":
            import rjieba

            return rjieba.cut
        import tinysegmenter

        return tinysegmenter.TinySegmenter().tokenize
    except ImportError as e:
        raise UserError(f"words in {lang!r} need a segmenter: pip install {_PACKAGES[lang]} "
                        "(the `curate` extra)") from e


def segment(text: str, lang: str | None) -> list[str]:
    """`text` cut into the segmenter's pieces where its script appears; other text is left whole.

    Used by the ROOTS filters, which split on whitespace first: a whitespace token "深度学习模型" becomes
    "深度学习", "模型"; "Hello" stays "Hello".
    """
    cut = segmenter(lang)
    if cut is None or not _SCRIPTS[base_lang(lang)].search(text):
        return [text]
    return [p for p in cut(text) if p.strip()]


def splitter(lang: str | None) -> Splitter:
    """The word splitter of `lang`: the regex for space-separated languages, regex + segmenter otherwise."""
    return _splitter(base_lang(lang))


@functools.cache
def _splitter(lang: str) -> Splitter:
    cut = segmenter(lang)
    if cut is None:
        return WORD_RE.findall
    script = _SCRIPTS[lang]

    def split(text: str) -> list[str]:
        out: list[str] = []
        for run in WORD_RE.findall(text):
            if script.search(run):
                out += (p for p in cut(run) if WORD_RE.fullmatch(p))
            else:
                out.append(run)
        return out

    return split


def split_words(text: str, lang: str | None = None) -> list[str]:
    """The words of `text` in `lang` (None: the space-separated rule). Punctuation is never a word."""
    return splitter(lang)(text)


def augment_words(words: list[str], sizes: Iterable[int], join: str) -> list[str]:
    """Words plus their adjacent groups (BigScience words_augmentation: zh joins pairs with "", vi with " ")."""
    out = list(words)
    for n in sizes:
        out += [join.join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return out
