"""RefinedWeb's URL filter: domain blocklist + URL word score, RECIPES.md §1 (Penedo et al. 2023, G.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from roots.common.errors import UserError
from roots.data.base import Filter
from roots.data.document import Document

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def read_list(path: str | Path) -> set[str]:
    """Entries of a list file: one per line, lowercased; blank lines and "#" comments ignored."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"url_filter: list file {path} does not exist (one entry per line)")
    entries = (line.split("#", 1)[0].strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return {e for e in entries if e}


def _default_list(name: str) -> set[str]:
    with resources.as_file(resources.files("roots.data") / "resources" / name) as path:
        return read_list(path)


@dataclass
class UrlFilter(Filter):
    """Drop documents by URL: blocked domains, hard words, strict sub-words, and >= 2 soft words.

    Words are the lowercase alphanumeric tokens of the whole URL (host, path and query), so
    "example.com/hot-sexy-pics" has the soft words "hot" and "sexy". Hard and soft words match whole
    tokens; strict sub-words match anywhere in the lowercased URL. A domain entry blocks the domain and
    its subdomains ("www." is ignored). roots ships small default lists (src/roots/data/resources/);
    user files add to them, or replace them with `use_default_lists: false`. A document without a
    URL is kept unless `require_url` (then dropped as "url_missing").
    """

    name = "url_filter"
    domains_file: str | None = None
    hard_words_file: str | None = None
    soft_words_file: str | None = None
    strict_subwords_file: str | None = None
    use_default_lists: bool = True
    min_soft_words: int = 2
    require_url: bool = False

    def __post_init__(self) -> None:
        self._loaded = False

    def setup(self) -> None:
        if self._loaded:
            return
        lists = {}
        for kind in ("domains", "hard_words", "soft_words", "strict_subwords"):
            default_name = "url_blocklist_domains.txt" if kind == "domains" else f"url_{kind}.txt"
            entries = _default_list(default_name) if self.use_default_lists else set()
            user_file = getattr(self, f"{kind}_file")
            if user_file:
                entries |= read_list(user_file)
            lists[kind] = entries
        self._domains = frozenset(d.removeprefix("www.") for d in lists["domains"])
        self._hard = frozenset(lists["hard_words"])
        self._soft = frozenset(lists["soft_words"])
        # one alternation regex: a single scan of the URL whatever the list size
        strict = sorted(lists["strict_subwords"], key=len, reverse=True)
        self._strict = re.compile("|".join(map(re.escape, strict))) if strict else None
        self._loaded = True

    def filter(self, doc: Document) -> str | None:
        self.setup()
        url = doc.metadata.get("url")
        if not url:
            return "url_missing" if self.require_url else None
        url = str(url).strip().lower()
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").removeprefix("www.")
        parts = host.split(".")
        if any(".".join(parts[i:]) in self._domains for i in range(len(parts))):
            return "url_blocked_domain"
        tokens = _TOKEN_RE.findall(url)
        if not self._hard.isdisjoint(tokens):
            return "url_hard_word"
        if self._strict is not None and self._strict.search(url):
            return "url_strict_subword"
        if len(self._soft.intersection(tokens)) >= self.min_soft_words:
            return "url_soft_words"
        return None
