"""Dedup at corpus scale: 1M documents of real sentences with controlled near-duplicates.

Generates the corpus (dedup_corpus.py; not timed) as zstd JSONL shards, then times roots'
MinHash dedup (FineWeb preset) as the curate executor runs it: `prepare` (keys per shard in 2
worker processes, partitioned clustering, result) and the filtering pass (`setup` + `process` for
every document, 2 worker processes). Peak memory (max RSS) is reported for the driver and for the
workers separately; neither holds more than one shard's documents. The driver holds 16 bytes per
document (id hashes, union-find) plus one key partition (at most `rows_per_partition` = 4M rows of
~60 bytes while sorted); memory-mapped key pages are released after each band.

    python benchmarks/dedup_scale.py [--data ../shared/data] [--docs 1000000] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARD_DOCS = 50_000


def _filter_shard(args: tuple) -> tuple[int, int]:
    step, shard = args
    from roots.data.corpus import iter_shard

    step.setup()
    kept = dropped = 0
    for doc in iter_shard(shard):
        if step.process(doc) is None:
            kept += 1
        else:
            dropped += 1
    return kept, dropped


def max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def run_dedup(corpus: Path, work: Path, workers: int) -> dict:
    """The timed part, in a fresh process so that its peak memory is its own."""
    from roots.data.dedup.minhash import MinHashDedup

    shards = sorted(corpus.glob("*.jsonl.zst"))
    step = MinHashDedup(preset="fineweb")
    start = time.perf_counter()
    step.prepare(shards, work, workers=workers)
    prepare_s = time.perf_counter() - start
    driver_mb = max_rss_mb(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.map(_filter_shard, [(step, s) for s in shards], chunksize=1)
    kept, dropped = map(sum, zip(*counts))
    return {"prepare_s": prepare_s, "filter_s": time.perf_counter() - start, "kept": kept, "dropped": dropped,
            "driver_mb": driver_mb, "workers_mb": max_rss_mb(resource.RUSAGE_CHILDREN)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ROOTS_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 documents")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="reuse / keep the generated corpus in this folder")
    parser.add_argument("--child", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.data / "MANIFEST.md").exists():
        parser.error(f"shared test data not found at {args.data}: pass --data DIR (or set ROOTS_SHARED_DATA)")
    if args.child:
        print(json.dumps(run_dedup(args.child[0], args.child[1], args.workers)))
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from dedup_corpus import drop_scores
    from roots.data.corpus import iter_shard
    from roots.data.dedup.text import hash_ids

    n_docs = 50_000 if args.quick else args.docs
    with tempfile.TemporaryDirectory(prefix="roots-dedup-scale-") as tmp:
        corpus = args.keep or Path(tmp) / "corpus"
        truth_path = corpus / "truth.npy"
        if not truth_path.exists():  # in its own process: a forked child starts with its parent's RSS
            start = time.perf_counter()
            subprocess.run([sys.executable, str(Path(__file__).parent / "dedup_corpus.py"), str(args.data),
                            str(n_docs), str(corpus), str(SHARD_DOCS), ".jsonl.zst"], check=True)
            print(f"generated {n_docs} documents in {time.perf_counter() - start:.0f} s (not timed below)")
        truth = np.load(truth_path)
        shards = sorted(corpus.glob("*.jsonl.zst"))
        size_gb = sum(s.stat().st_size for s in shards) / 1e9
        print(f"{len(truth)} documents, {len(shards)} shards ({size_gb:.2f} GB zstd), "
              f"{len(truth) - len(np.unique(truth))} near-duplicates; MinHash fineweb (5-gram, 14 x 8)", flush=True)
        work = Path(tmp) / "work"
        out = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--child", str(corpus),
                              str(work)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ids = hash_ids([d.id for s in shards for d in iter_shard(s)])
        p, rec, f1 = drop_scores(np.isin(ids, np.load(work / "result" / "drop.npy")), truth)

    total = r["prepare_s"] + r["filter_s"]
    print(f"prepare (keys + clustering): {r['prepare_s']:.0f} s; filtering pass: {r['filter_s']:.0f} s; "
          f"{len(truth) / total:.0f} docs/s overall with {args.workers} workers")
    print(f"kept {r['kept']}, dropped {r['dropped']}; dropped-set precision {p:.3f} recall {rec:.3f} F1 {f1:.3f}")
    print(f"peak memory: driver {r['driver_mb']:.0f} MB, largest worker {r['workers_mb']:.0f} MB "
          f"(shards of {SHARD_DOCS} documents)")
    print(f"RESULT minutes_for_{len(truth)}_docs {total / 60:.1f} goal 15")


if __name__ == "__main__":
    main()
