"""RefinedWeb's URL filter: UT1 domain/URL blocklists + URL word scores, RECIPES.md §1 (Penedo et al. 2023, G.1).

The rules are datatrove's `URLFilter` (written by RefinedWeb's authors), on the same published lists
(roots.data.lists: UT1's 4.6M domains and 19,586 URLs, RefinedWeb's 203 hard words, 88 soft words and
134 sub-words), in the same order:
1. the URL's registered domain (public-suffix aware, tldextract) or its full host is a listed domain;
2. the URL itself is a listed URL (UT1 lists them without a scheme: roots also tries it without one);
3. a hard word is one of the URL's words (runs of ASCII letters and digits);
4. at least `min_soft_words` distinct soft words are among them;
5. a sub-word occurs anywhere in the URL reduced to its letters and digits.
Words are compared lowercased; datatrove splits the URL as written, so "SEX" in a URL escapes its hard
word "sex" (roots catches it: a documented difference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from roots.data.base import Filter
from roots.data.document import Document

_SPLIT_RE = re.compile(r"[^a-z0-9]+")


def normalize_word(entry: str) -> str:
    """datatrove's list normalization: letters and digits only, lowercased ("2 girls 1 cup" -> "2girls1cup")."""
    return _SPLIT_RE.sub("", entry.lower())


@dataclass
class UrlFilter(Filter):
    """Drop documents by URL: listed domains and URLs, hard words, >= 2 soft words, sub-words.

    The defaults are the published lists (`roots lists --recipe refinedweb`); user files (one entry per
    line) add to them, or replace them with `use_default_lists: false`. A document without a URL is kept
    unless `require_url` (then dropped as "url_missing").
    """

    name = "url_filter"
    domains_file: str | None = None
    urls_file: str | None = None
    hard_words_file: str | None = None
    soft_words_file: str | None = None
    strict_subwords_file: str | None = None
    use_default_lists: bool = True
    min_soft_words: int = 2
    require_url: bool = False

    _DEFAULTS: ClassVar[dict[str, str]] = {"domains": "ut1_domains", "urls": "ut1_urls", "hard_words": "refinedweb_hard_words",
                 "soft_words": "refinedweb_soft_words", "strict_subwords": "refinedweb_subwords"}

    def __post_init__(self) -> None:
        from roots.data.lists import read_user_list

        self._loaded = False
        for kind in self._DEFAULTS:  # a missing user file fails when the recipe is built
            path = getattr(self, f"{kind}_file")
            if path:
                read_user_list(path, f"url_filter.{kind}_file")

    def lists(self) -> list[str]:
        refs = list(self._DEFAULTS.values()) if self.use_default_lists else []
        return refs + [p for kind in self._DEFAULTS if (p := getattr(self, f"{kind}_file"))]

    def __getstate__(self) -> dict[str, Any]:  # workers load the lists themselves (memory-mapped, shared)
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")} | {"_loaded": False}

    def _sets(self, kind: str) -> list[Any]:
        from roots.data.lists import load_list

        refs = [self._DEFAULTS[kind]] if self.use_default_lists else []
        sets = [load_list(ref) for ref in refs]
        path = getattr(self, f"{kind}_file")
        if path:  # hosts compare lowercased
            sets.append(frozenset(e.lower() for e in load_list(path)) if kind == "domains" else load_list(path))
        return sets

    def setup(self) -> None:
        if self._loaded:
            return
        from tldextract import TLDExtract

        self._extract = TLDExtract(suffix_list_urls=())  # the public suffix list bundled with tldextract
        self._domains = self._sets("domains")
        self._urls = self._sets("urls")
        words = {kind: {normalize_word(w) for s in self._sets(kind) for w in s} - {""}
                 for kind in ("hard_words", "soft_words", "strict_subwords")}
        self._hard = frozenset(words["hard_words"])
        self._soft = frozenset(words["soft_words"])
        # one alternation regex: a single scan of the URL whatever the list size
        strict = sorted(words["strict_subwords"], key=len, reverse=True)
        self._strict = re.compile("|".join(map(re.escape, strict))) if strict else None
        self._loaded = True

    def _listed(self, sets: list[Any], *keys: str) -> bool:
        return any(key in s for key in keys if key for s in sets)

    def filter(self, doc: Document) -> str | None:
        self.setup()
        url = doc.metadata.get("url")
        if not url:
            return "url_missing" if self.require_url else None
        url = str(url).strip()
        parts = self._extract(url)
        if self._listed(self._domains, parts.top_domain_under_public_suffix.lower(), parts.fqdn.lower()):
            return "url_blocked_domain"
        if self._listed(self._urls, url, re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", url)):
            return "url_blocked_url"
        lowered = url.lower()
        words = set(_SPLIT_RE.split(lowered))
        if not self._hard.isdisjoint(words):
            return "url_hard_word"
        if len(self._soft.intersection(words)) >= self.min_soft_words:
            return "url_soft_words"
        if self._strict is not None and self._strict.search(_SPLIT_RE.sub("", lowered)):
            return "url_strict_subword"
        return None
