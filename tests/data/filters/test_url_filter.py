"""Conformance of url_filter with RECIPES.md §1 (URL filter): blocklist, hard, strict and soft words."""

from __future__ import annotations

import pytest

from roots.common.errors import UserError
from roots.data.document import Document
from roots.data.filters.url_filter import UrlFilter


def reason(url: str | None, **params) -> str | None:
    step = UrlFilter(**params)
    step.setup()
    return step.filter(Document("text", "t", metadata={} if url is None else {"url": url}))


def test_blocked_domain_and_subdomains():
    """RECIPES.md §1: domain blocklist; a listed domain blocks its subdomains."""
    assert reason("https://www.xnxx.com/video/1") == "url_blocked_domain"
    assert reason("https://fr.xnxx.com/") == "url_blocked_domain"
    assert reason("https://xnxx.com.example.org/") is None


def test_user_domain_file(tmp_path):
    """RECIPES.md §1: user lists, one domain per line (comments allowed)."""
    lst = tmp_path / "domains.txt"
    lst.write_text("# spam farms\nexample.org\n\nWWW.Spam.Net  # trailing comment\n")
    assert reason("http://a.b.example.org/page", domains_file=str(lst)) == "url_blocked_domain"
    assert reason("http://spam.net", domains_file=str(lst)) == "url_blocked_domain"
    assert reason("http://myexample.org/page", domains_file=str(lst)) is None


def test_hard_word_rejects_alone():
    """RECIPES.md §1: any hard word rejects (as a whole URL word)."""
    assert reason("https://site.com/free-porn-videos") == "url_hard_word"
    assert reason("https://site.com/music/xxxtentacion-live") is None  # inside a word: not matched


def test_strict_subword_matches_anywhere():
    """RECIPES.md §1: strict sub-words are matched anywhere in the URL."""
    assert reason("https://bestxvideosclips.net/") == "url_strict_subword"


def test_soft_words_reject_at_two_hits():
    """RECIPES.md §1: soft words reject at >= 2 hits (distinct words)."""
    assert reason("https://weather.com/hot-summer") is None
    assert reason("https://site.com/hot-dating-tips") == "url_soft_words"
    assert reason("https://site.com/hot/hot/hot") is None


def test_user_word_files_and_defaults_off(tmp_path):
    """RECIPES.md §1: user word lists add to the defaults, or replace them."""
    hard = tmp_path / "hard.txt"
    hard.write_text("gambling\n")
    assert reason("https://x.com/online-gambling", hard_words_file=str(hard)) == "url_hard_word"
    assert reason("https://site.com/free-porn", use_default_lists=False) is None
    assert reason("https://x.com/online-gambling", hard_words_file=str(hard), use_default_lists=False) \
        == "url_hard_word"


def test_missing_list_file_is_a_user_error():
    with pytest.raises(UserError, match="does not exist"):
        UrlFilter(soft_words_file="/nonexistent/soft.txt").setup()


def test_missing_url():
    """A document without a URL has nothing to check: kept, unless `require_url`."""
    assert reason(None) is None
    assert reason(None, require_url=True) == "url_missing"


def test_url_without_scheme():
    assert reason("xnxx.com/abc") == "url_blocked_domain"
