"""Every filter on real article text (the Scrapinghub benchmark's gold article bodies): runs without
errors, keeps most clean articles, and its drops carry the documented reasons."""

from __future__ import annotations

import gzip
import json

import pytest

from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.registry import build_step

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def articles(shared_data) -> list[Document]:
    path = shared_data / "web" / "html_extraction" / "scrapinghub_article_extraction_benchmark.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [Document(r["gold_article_body"], str(r["id"]), {"url": r["url"]}) for r in rows
            if r.get("gold_article_body")]


# share of clean news/blog articles each step must keep (observed: 0.88 .. 1.0)
MIN_KEPT = {"gopher_repetition": 0.9, "gopher_quality": 0.8, "c4": 0.9, "fineweb_quality": 0.85,
            "refinedweb_lines": 0.9, "url_filter": 1.0, "strip_urls": 1.0}


@pytest.mark.parametrize("name", sorted(MIN_KEPT))
def test_filter_on_real_articles(name, articles):
    # C4's LDNOOBW rule drops 15 of these 181 news articles (8%: "porn", "sex" in news copy), as it did in
    # C4; the share asserted here is that of the line and document rules
    step = build_step(name, {"badwords": False} if name == "c4" else {})
    step.setup()
    docs = [Document(d.text, d.id, dict(d.metadata)) for d in articles]
    stats = StepStats(name)
    kept = list(step.run(docs, stats))
    assert not stats.errors
    assert len(kept) >= MIN_KEPT[name] * len(articles), dict(stats.dropped)
    prefix = "refinedweb" if name == "refinedweb_lines" else name.split("_")[0]
    assert all(reason.startswith(prefix) for reason in stats.dropped), dict(stats.dropped)
