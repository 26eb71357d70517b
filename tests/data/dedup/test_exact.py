from __future__ import annotations

from roots.data.dedup.exact import ExactDedup, UrlDedup, exact_dedup, normalize_url, url_dedup
from roots.data.registry import build_step

from .conftest import random_text, run_step, write_shards


def test_exact_keeps_first_occurrence_across_shards(tmp_path, rng):
    base = [random_text(rng, 30) for _ in range(20)]
    docs = [{"id": f"d{i}", "text": t, "metadata": {}} for i, t in enumerate(base)]
    docs += [{"id": "copy3", "text": base[3], "metadata": {}},  # exact copy in a later shard
             {"id": "ws3", "text": "  " + base[3].replace(" ", "\n\n") + " ", "metadata": {}},  # whitespace only
             {"id": "upper5", "text": base[5].upper(), "metadata": {}}]
    shards = write_shards(tmp_path / "in", docs, per_shard=7)
    result = run_step(ExactDedup(), shards, tmp_path / "work")
    assert {k for k, v in result.items() if v} == {"copy3", "ws3"}
    assert set(result.values()) == {None, "exact_duplicate"}
    lower = run_step(ExactDedup(normalization="lower"), shards, tmp_path / "work_lower")
    assert {k for k, v in lower.items() if v} == {"copy3", "ws3", "upper5"}


def test_exact_empty_documents_are_kept_and_counted(tmp_path):
    docs = [{"id": str(i), "text": t, "metadata": {}} for i, t in enumerate(["", "  ", "a b", "a b", ""])]
    step = ExactDedup()
    result = run_step(step, write_shards(tmp_path / "in", docs, 10), tmp_path / "work")
    assert result == {"0": None, "1": None, "2": None, "3": "exact_duplicate", "4": None}
    assert exact_dedup(["", "x", "x", ""]) == [0, 1, 3]


def test_url_dedup_first_url_wins(tmp_path):
    urls = ["http://A.org/x", "http://a.org/x#top", None, "https://a.org/x", " http://a.org/x", None]
    docs = [{"id": str(i), "text": f"text {i}", "metadata": {"url": u} if u else {}} for i, u in enumerate(urls)]
    result = run_step(UrlDedup(), write_shards(tmp_path / "in", docs, 2), tmp_path / "work")
    assert [k for k, v in result.items() if v] == ["1", "4"]
    assert url_dedup(urls) == [0, 2, 3, 5]
    assert normalize_url("HTTP://Ex.COM/Path#frag") == "http://ex.com/Path"


def test_registered_steps():
    assert isinstance(build_step("exact_dedup", {"normalization": "lower"}), ExactDedup)
    assert isinstance(build_step("url_dedup"), UrlDedup)


def test_fast_word_path_equals_normalize(shared_data):
    import gzip

    from roots.data.dedup.text import _full_words_utf8, words

    with gzip.open(shared_data / "langid" / "lingua_sentences_shared.tsv.gz", "rt") as f:
        texts = [line for _, line in zip(range(6000), f)]  # 75 languages and scripts
    texts += ["a\x1cb\u00a0c_d É<t>x</t> \u2028 e\u0301 ½ ² ΔΣ.", "", "<br/>"]
    assert all([w.encode() for w in words(t)] == _full_words_utf8(t) for t in texts)

