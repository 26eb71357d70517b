"""The funnel report, on a hand-written stats.json."""

from __future__ import annotations

import json

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data.base import StepStats
from roots.data.report import funnel, write_report


def _stats() -> dict:
    url = StepStats("url_filter", docs_in=100, docs_out=90, chars_in=50_000, chars_out=44_000, time_s=0.5)
    url.dropped.update({"url_soft_words": 6, "url_blocked_domain": 4})
    url.examples["url_soft_words"] = [{"id": "d7", "url": "http://x.com/hot-dating",
                                       "text": "<script>alert('x')</script> & more"}]
    gopher = StepStats("gopher_quality", docs_in=90, docs_out=45, chars_in=44_000, chars_out=33_000, time_s=1.0)
    gopher.dropped.update({"gopher_short_doc": 45})
    return {"recipe": "refinedweb", "inputs": 2, "reader": {"docs": 100, "skipped": {"not_html": 3}},
            "steps": [url.to_dict(), gopher.to_dict()],
            "output": {"docs": 45, "chars": 33_000, "shards": ["part-00000.jsonl.zst"]}, "time_s": 2.5}


def test_funnel_shares_of_the_input():
    rows = funnel(_stats())
    assert [(r.name, r.docs_pct, r.chars_pct) for r in rows] == [
        ("input", 100.0, 100.0), ("url_filter", 90.0, 88.0), ("gopher_quality", 45.0, 66.0)]


def test_write_report(tmp_path):
    (tmp_path / "stats.json").write_text(json.dumps(_stats()))
    path = write_report(tmp_path)
    page = path.read_text()
    assert (tmp_path / "funnel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in page  # self-contained
    for expected in ("url_soft_words", "url_blocked_domain", "gopher_short_doc", "not_html", "45.00", "88.00"):
        assert expected in page
    # dropped examples are shown, escaped
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "<script>" not in page


def test_cli_report(tmp_path, capsys):
    (tmp_path / "stats.json").write_text(json.dumps(_stats()))
    assert main(["report", "--output", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").exists() and "report.html" in capsys.readouterr().out


def test_missing_or_bad_stats(tmp_path):
    with pytest.raises(UserError, match="not found"):
        write_report(tmp_path)
    (tmp_path / "stats.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        write_report(tmp_path)
    assert main(["report", "--output", str(tmp_path)]) == 2
