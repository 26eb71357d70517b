"""Throughput of the filter chain gopher_repetition -> gopher_quality -> c4 -> fineweb_quality:
roots vs datatrove 0.10.1 on the same documents, same number of worker processes.

Documents: the extracted texts of ../shared/data/web (see _pages.py) repeated to >= 20,000 documents
(--quick: 400). Each side runs its four filters in the same order in `--workers` processes; a
document leaves the chain at its first drop and C4 edits the text the next filter sees, as in a real
pipeline. Workers load their models (spaCy) before the clock starts. Roots runs its real
`Step.run` chain (counting stats and keeping dropped examples); datatrove's filters are called
directly (`filter()`), without its pipeline bookkeeping.

    python benchmarks/filters_throughput.py [--data ../shared/data] [--quick] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import DEFAULT_DATA, extracted_texts

CHAIN = ("gopher_repetition", "gopher_quality", "c4", "fineweb_quality")
GOAL = 3.0
_chain = None  # per worker process


def _init_roots(barrier) -> None:
    global _chain
    from roots.data.registry import build_step

    _chain = [build_step(name) for name in CHAIN]
    for step in _chain:
        step.setup()
    barrier.wait()


def _run_roots(texts: list[str]) -> int:
    from roots.data.base import StepStats
    from roots.data.document import Document

    docs = (Document(t, str(i)) for i, t in enumerate(texts))
    for step in _chain:
        docs = step.run(docs, StepStats(step.name))
    return sum(1 for _ in docs)


def _init_datatrove(barrier) -> None:
    global _chain
    from datatrove.data import Document as DTDocument
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    _chain = [GopherRepetitionFilter(), GopherQualityFilter(),
              C4QualityFilter(min_words_per_line=5, min_num_sentences=3), FineWebQualityFilter()]
    _chain[1].filter(DTDocument(text="warm up the spaCy tokenizer", id="w"))
    barrier.wait()


def _run_datatrove(texts: list[str]) -> int:
    from datatrove.data import Document as DTDocument

    kept = 0
    for i, text in enumerate(texts):
        doc = DTDocument(text=text, id=str(i))
        if all(f.filter(doc) is True for f in _chain):  # all() stops at the first drop
            kept += 1
    return kept


def measure(side: str, texts: list[str], workers: int, chunk: int = 50) -> tuple[float, int]:
    """(docs/s, documents kept) of one side with `workers` warm processes."""
    init, work = (_init_roots, _run_roots) if side == "roots" else (_init_datatrove, _run_datatrove)
    ctx = mp.get_context("spawn")  # same clean start for both sides
    barrier = ctx.Barrier(workers + 1)
    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    with ctx.Pool(workers, initializer=init, initargs=(barrier,)) as pool:
        barrier.wait()  # every worker is set up
        start = time.perf_counter()
        kept = sum(pool.imap_unordered(work, chunks))
        elapsed = time.perf_counter() - start
    return len(texts) / elapsed, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="400 documents instead of 20,000")
    parser.add_argument("--docs", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    pages = extracted_texts(args.data)
    n_docs = args.docs or (400 if args.quick else 20_000)
    texts = [pages[i % len(pages)] for i in range(n_docs)]
    print(f"{n_docs} documents ({len(pages)} distinct extracted pages, {sum(map(len, texts)) / 1e6:.1f} M "
          f"characters), chain {' -> '.join(CHAIN)}, {args.workers} worker processes each "
          f"(shared machine: timings are under contention)")
    roots_rate, roots_kept = measure("roots", texts, args.workers)
    print(f"roots:     {roots_rate:9.1f} docs/s  ({roots_kept} kept)")
    dt_rate, dt_kept = measure("datatrove", texts, args.workers)
    print(f"datatrove: {dt_rate:9.1f} docs/s  ({dt_kept} kept)")
    speedup = roots_rate / dt_rate
    print(f"speedup roots / datatrove: {speedup:.2f}x")
    print(f"RESULT speedup_vs_datatrove {speedup:.2f} goal {GOAL}")


if __name__ == "__main__":
    main()
