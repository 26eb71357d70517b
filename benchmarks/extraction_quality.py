"""HTML -> text quality: token precision / recall / F1 against hand-checked gold article bodies.

Input: ../shared/data/web/html_extraction/scrapinghub_article_extraction_benchmark.jsonl.gz (181 pages).
Both of roots' extraction backends run through roots' own `Extract` step (trafilatura with FineWeb's
settings; resiliparse main-content) on the same pages. Scores follow the article-extraction-benchmark's
bag-of-tokens definition, averaged over pages. Goal: trafilatura F1 >= 0.90.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections import Counter
from pathlib import Path

from roots.data.document import Document
from roots.data.extract import Extract

REPO = Path(__file__).resolve().parents[1]
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> Counter:
    return Counter(_TOKEN.findall(text.lower()))


def prf(predicted: str, gold: str) -> tuple[float, float, float]:
    p, g = tokens(predicted), tokens(gold)
    overlap = sum((p & g).values())
    precision = overlap / sum(p.values()) if p else (1.0 if not g else 0.0)
    recall = overlap / sum(g.values()) if g else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(backend: str, pages: list[dict]) -> dict[str, float]:
    step = Extract(backend=backend, timeout_s=10)
    step.setup()
    scores, start = [], time.perf_counter()
    for page in pages:
        doc = Document(text=page["html"], id=page["id"], metadata={"content_type": "text/html"})
        kept = step.process(doc) is None
        scores.append(prf(doc.text if kept else "", page["gold_article_body"]))
    elapsed = time.perf_counter() - start
    n = len(scores)
    return {"precision": sum(s[0] for s in scores) / n, "recall": sum(s[1] for s in scores) / n,
            "f1": sum(s[2] for s in scores) / n, "docs_per_s": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="the first 60 pages only")
    args = parser.parse_args()
    path = args.data / "web/html_extraction/scrapinghub_article_extraction_benchmark.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        pages = [json.loads(line) for line in f]
    if args.quick:
        pages = pages[:60]
    print(f"{len(pages)} pages from {path.name} (timings on a shared 2-core machine, under contention)")
    results = {backend: evaluate(backend, pages) for backend in ("trafilatura", "resiliparse")}
    print(f"{'backend':<12} {'precision':>9} {'recall':>7} {'F1':>7} {'docs/s':>8}")
    for backend, r in results.items():
        print(f"{backend:<12} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>7.3f} {r['docs_per_s']:>8.1f}")
    print(f"RESULT trafilatura_token_f1 {results['trafilatura']['f1']:.4f} goal 0.90")


if __name__ == "__main__":
    main()
