"""Conformance of url_filter with RECIPES.md §1 (URL filter) on the published lists (UT1 + RefinedWeb's words).

The lists come from the datatrove wheel (roots' curate extra); without it these tests skip.
"""

from __future__ import annotations

import pytest

pytest.importorskip("tldextract", reason="url_filter needs tldextract (roots[curate])")
if __import__("importlib.util").util.find_spec("datatrove") is None:
    pytest.skip("the published URL lists ship in the datatrove wheel (roots[curate])", allow_module_level=True)

from roots.common.errors import UserError
from roots.data.document import Document
from roots.data.filters.url_filter import UrlFilter


def reason(url: str | None, **params) -> str | None:
    step = UrlFilter(**params)
    step.setup()
    return step.filter(Document("text", "t", metadata={} if url is None else {"url": url}))


def test_blocked_domain_and_subdomains():
    """RECIPES.md §1: UT1 domain blocklist; a listed registered domain blocks its subdomains."""
    assert reason("https://www.xnxx.com/video/1") == "url_blocked_domain"
    assert reason("https://fr.xnxx.com/") == "url_blocked_domain"
    assert reason("https://xnxx.com.example.org/") is None
    assert reason("https://0-1avsex.com/") == "url_blocked_domain"  # the first UT1 entry
    assert reason("https://en.wikipedia.org/wiki/Toulouse") is None


def test_blocked_url():
    """UT1 lists URLs without a scheme; they match with or without one."""
    url = ("0149614511.strimbat.fr/porno-anal-escort-granville-faire-sa-salope-baise-une-vache-video-gratuite"
           "-x-escort-girl-auxerre")
    assert reason(url) == "url_blocked_domain" or reason(url) == "url_blocked_url"
    step = UrlFilter(use_default_lists=False, urls_file=None)
    step.setup()
    assert step.filter(Document("t", "t", metadata={"url": "http://" + url})) is None


def test_user_url_file(tmp_path):
    lst = tmp_path / "urls.txt"
    lst.write_text("example.org/bad/page\n")
    assert reason("https://example.org/bad/page", urls_file=str(lst), use_default_lists=False) == "url_blocked_url"
    assert reason("https://example.org/bad/page2", urls_file=str(lst), use_default_lists=False) is None


def test_lists_reported():
    """Every list the step uses is named, for `roots lists` and run.json."""
    from roots.data.lists import lists_of_steps

    rows = {r["name"]: r for r in lists_of_steps([UrlFilter()])}
    assert set(rows) == {"ut1_domains", "ut1_urls", "refinedweb_hard_words", "refinedweb_soft_words",
                         "refinedweb_subwords"}
    assert rows["ut1_domains"]["entries"] > 4_500_000
    assert rows["ut1_domains"]["license"] == "CC-BY-SA 4.0"
    assert rows["refinedweb_hard_words"]["entries"] == 203
    assert all(len(r["sha256"]) == 64 for r in rows.values())


def test_user_domain_file(tmp_path):
    """RECIPES.md §1: user lists, one domain per line (comments allowed)."""
    lst = tmp_path / "domains.txt"
    lst.write_text("# spam farms\nexample.org\n\nWWW.Spam.Net  # trailing comment\n")
    assert reason("http://a.b.example.org/page", domains_file=str(lst)) == "url_blocked_domain"
    assert reason("http://www.spam.net", domains_file=str(lst)) == "url_blocked_domain"
    assert reason("http://myexample.org/page", domains_file=str(lst)) is None


def test_hard_word_rejects_alone():
    """RECIPES.md §1: any hard word rejects (as a whole URL word)."""
    assert reason("https://site.com/free-porn-videos") == "url_hard_word"
    assert reason("https://site.com/FREE-PORN") == "url_hard_word"  # roots compares lowercased
    assert reason("https://site.com/music/xxxtentacion-live") is None  # inside a word: not matched


def test_strict_subword_matches_anywhere():
    """RECIPES.md §1: strict sub-words are matched anywhere in the URL."""
    assert reason("https://bestxvideosclips.net/") == "url_strict_subword"
    assert reason("https://site.net/hot-chat-now") == "url_strict_subword"  # "hot chat": letters and digits only


def test_soft_words_reject_at_two_hits():
    """RECIPES.md §1: soft words reject at >= 2 hits (distinct words)."""
    assert reason("https://weather.com/sexy-summer") is None
    assert reason("https://site.com/sexy-lingerie-tips") == "url_soft_words"
    assert reason("https://site.com/sexy/sexy/sexy") is None


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
