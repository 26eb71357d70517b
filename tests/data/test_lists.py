"""The list registry: hashed lists built once and memory-mapped, `roots lists`, `roots lists update ut1`."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data import lists


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty list cache and no list loaded in this process."""
    monkeypatch.setenv("ROOTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(lists, "_LOADED", {})
    return tmp_path / "cache" / "lists"


def _tarball(domains: list[str], urls: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, entries in (("domains", domains), ("urls", urls)):
            data = ("\n".join(entries) + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www (the tests' stand-in for the pinned URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_hash_set_membership(tmp_path):
    entries = [f"site{i}.example" for i in range(1000)] + ["日本語.jp"]
    path = tmp_path / "h.npy"
    assert lists._build_hash_array(entries + entries[:10], path) == 1001  # duplicates counted once
    s = lists.HashSet.open(path)
    assert len(s) == 1001
    assert all(e in s for e in entries)
    assert "site1000.example" not in s and "" not in s and 3 not in s


def test_update_ut1_from_local_server(cache, server, capsys):
    """`roots lists update ut1` fetches the archive, checks its sha256, caches it; loads then use it."""
    root, base = server
    data = _tarball(["bad.example", "worse.example"], ["bad.example/page"])
    (root / "ut1.tar.gz").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    assert main(["lists", "update", "ut1", "--url", f"{base}/ut1.tar.gz", "--sha256", sha]) == 0
    assert (cache / "downloads" / lists.UT1_ARCHIVE).read_bytes() == data
    domains = lists.load_list("ut1_domains")
    assert len(domains) == 2 and "worse.example" in domains and "good.example" not in domains
    info = lists.list_info("ut1_urls")
    assert info.entries == 1 and "roots lists update ut1" in info.version
    assert info.sha256 == hashlib.sha256(b"bad.example/page\n").hexdigest()
    assert "ut1 from" in capsys.readouterr().out


def test_update_rejects_a_wrong_checksum(cache, server, capsys):
    root, base = server
    (root / "ut1.tar.gz").write_bytes(_tarball(["a.example"], []))
    assert main(["lists", "update", "ut1", "--url", f"{base}/ut1.tar.gz", "--sha256", "0" * 64]) == 2
    err = capsys.readouterr().err
    assert "expected " + "0" * 64 in err and "nothing was cached" in err and len(err.strip().splitlines()) == 1
    assert not (cache / "downloads" / lists.UT1_ARCHIVE).exists()
    assert main(["lists", "update", "ut1", "--url", f"{base}/missing.tar.gz"]) == 2
    assert "could not fetch" in capsys.readouterr().err


def test_update_pins_url_and_checksum():
    config = lists.UpdateConfig(name="ut1")
    assert config.url == lists.UT1_URL and lists.UT1_SHA256 and len(lists.UT1_SHA256) == 64
    with pytest.raises(UserError, match="only 'ut1'"):
        lists.update(lists.UpdateConfig(name="ldnoobw"))


def test_a_rebuilt_archive_rebuilds_the_list(cache, server):
    root, base = server
    for entries in (["one.example"], ["two.example", "three.example"]):
        data = _tarball(entries, [])
        (root / "ut1.tar.gz").write_bytes(data)
        main(["lists", "update", "ut1", "--url", f"{base}/ut1.tar.gz", "--sha256", hashlib.sha256(data).hexdigest()])
        lists._LOADED.clear()
        assert len(lists.load_list("ut1_domains")) == len(entries)


def test_user_list_and_unknown_name(tmp_path, cache):
    path = tmp_path / "mine.txt"
    path.write_text("# comment\nAlpha\n\nbeta  # trailing\n")
    assert lists.load_list(str(path)) == frozenset({"Alpha", "beta"})
    assert lists.list_info(str(path)).license == "(user's)"
    with pytest.raises(UserError, match="unknown list 'nope'"):
        lists.load_list("nope")


def test_cli_lists_of_a_recipe(capsys, cache, server):
    root, base = server
    data = _tarball(["a.example"], ["a.example/x"])
    (root / "ut1.tar.gz").write_bytes(data)
    main(["lists", "update", "ut1", "--url", f"{base}/ut1.tar.gz", "--sha256", hashlib.sha256(data).hexdigest()])
    capsys.readouterr()
    if lists._datatrove_assets() is None:
        pytest.skip("RefinedWeb's word lists ship in the datatrove wheel (roots[curate])")
    assert main(["lists", "--recipe", "refinedweb", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"ut1_domains", "refinedweb_hard_words"}
    assert all({"entries", "source", "version", "license", "sha256"} <= set(r) for r in rows)
    assert main(["lists", "--recipe", "quickstart"]) == 0
    assert "uses no lists" in capsys.readouterr().out


def test_run_json_records_the_lists(tmp_path, cache):
    """run.json names every list the recipe used, with its facts."""
    import json

    from roots.data.pipeline import CurateConfig, run_curation

    pytest.importorskip("tldextract")
    domains = tmp_path / "domains.txt"
    domains.write_text("blocked-site.org\n")
    (tmp_path / "in.jsonl").write_text(
        json.dumps({"id": "a", "text": "kept", "metadata": {"url": "https://ok-site.org/"}}) + "\n"
        + json.dumps({"id": "b", "text": "dropped", "metadata": {"url": "https://www.blocked-site.org/x"}}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nsteps:\n  - url_filter: {{use_default_lists: false, domains_file: {domains}}}\n")
    stats = run_curation(CurateConfig(recipe=str(recipe), input=[str(tmp_path / "in.jsonl")],
                                      output=tmp_path / "out"))
    assert stats["output"]["docs"] == 1
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert [(r["name"], r["entries"], r["step"]) for r in record["lists"]] == [(str(domains), 1, "url_filter")]


def test_shipped_word_lists_are_registered():
    """BigScience's ROOTS lists (13 languages) and LDNOOBW (28) are in the registry with their licenses."""
    from roots.data.recipe import load_recipe

    rows = {r["name"]: r for r in lists.lists_of_steps(load_recipe("roots").build_steps())}
    assert rows["bigscience_flagged_words_en"]["entries"] == 68
    assert rows["bigscience_stopwords_en"]["license"] == "Apache-2.0"
    assert lists.list_info("ldnoobw_zh").license == "CC-BY-4.0"
    assert "性" in lists.load_list("ldnoobw_zh")  # as published (the C4 step removes datatrove's allow-list)
    assert sum(name.startswith("bigscience_") for name in lists.LISTS) == 26
