"""MinHash dedup throughput: signatures + LSH + clustering on the same documents.

roots (`MinHashDedup(preset="fineweb").prepare`, out-of-core, 2 worker processes) vs datatrove's
MinHash stages 1-3 (signatures, buckets, clustering; LocalPipelineExecutor, 2 workers) vs datasketch
(MinHash.update_batch + MinHashLSH insert/query + union-find, one process). All use 5-gram shingles
and 14 bands x 8 rows (FineWeb, datatrove's default). Each tool runs in its own process so its peak
memory (max RSS of the process and its workers) is measured alone. The corpus is real sentences with
controlled near-duplicates (dedup_corpus.py), so each tool's dropped set is scored against the truth.

    python benchmarks/dedup_throughput.py [--data ../shared/data] [--docs 100000] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BANDS, ROWS, NGRAM = 14, 8, 5


def cpu_s() -> float:
    """CPU seconds of this process and its finished workers: a measure that contention barely moves."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) / 1024


def doc_index(doc_id: str) -> int:
    return int(doc_id.rsplit("-", 1)[1])


def run_roots(corpus: Path, work: Path, n_docs: int) -> np.ndarray:
    from roots.data.dedup.minhash import MinHashDedup
    from roots.data.dedup.text import hash_ids

    MinHashDedup(preset="fineweb").prepare(sorted(corpus.glob("*.jsonl.gz")), work, workers=2)
    drop = np.load(work / "result" / "drop.npy")
    return np.isin(hash_ids([f"doc-{i}" for i in range(n_docs)]), drop)


def run_datatrove(corpus: Path, work: Path, n_docs: int) -> np.ndarray:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader

    files = sorted(corpus.glob("*.jsonl.gz"))
    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    common = {"workers": 2, "start_method": "fork"}
    LocalPipelineExecutor(
        [JsonlReader(str(corpus), glob_pattern="*.jsonl.gz"), MinhashDedupSignature(str(work / "sigs"), config=config)],
        tasks=len(files), logging_dir=str(work / "logs1"), **common).run()
    LocalPipelineExecutor(
        [MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)],
        tasks=BANDS, logging_dir=str(work / "logs2"), **common).run()
    LocalPipelineExecutor(
        [MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config)],
        tasks=1, logging_dir=str(work / "logs3"), workers=1, start_method="fork").run()
    per_file = [gzip.decompress(f.read_bytes()).count(b"\n") for f in files]  # one document per line
    offsets = np.concatenate([[0], np.cumsum(per_file)])
    dropped = np.zeros(n_docs, dtype=bool)
    for path in (work / "remove").glob("*.remove"):
        local = np.fromfile(path, dtype="<u4")
        dropped[offsets[int(path.name.split(".")[0])] + local] = True
    return dropped


def run_datasketch(corpus: Path, work: Path, n_docs: int) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    from roots.data.corpus import iter_shard
    from roots.data.dedup.text import words
    from roots.data.dedup.unionfind import UnionFind

    lsh = MinHashLSH(num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    sigs: dict[int, MinHash] = {}
    for shard in sorted(corpus.glob("*.jsonl.gz")):
        for doc in iter_shard(shard):
            w = words(doc.text)
            shingles = {" ".join(w[i:i + NGRAM]).encode() for i in range(max(len(w) - NGRAM + 1, 1))}
            m = MinHash(num_perm=BANDS * ROWS, seed=1)
            m.update_batch(list(shingles))
            i = doc_index(doc.id)
            sigs[i] = m
            lsh.insert(i, m)
    uf = UnionFind(n_docs)
    for i, m in sigs.items():
        near = np.array(lsh.query(m), dtype=np.int64)
        uf.union(np.full(len(near), i), near)
    labels = uf.labels()
    return labels != np.arange(n_docs)


RUNNERS = {"roots": run_roots, "datatrove": run_datatrove, "datasketch": run_datasketch}


def child(tool: str, corpus: Path, work: Path, n_docs: int) -> None:
    start, cpu_start = time.perf_counter(), cpu_s()
    dropped = RUNNERS[tool](corpus, work, n_docs)
    elapsed, cpu = time.perf_counter() - start, cpu_s() - cpu_start
    np.save(work / "dropped.npy", dropped)
    print(json.dumps({"time_s": elapsed, "cpu_s": cpu, "peak_mb": peak_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ROOTS_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 documents (datatrove runs ~12 ms per document here)")
    parser.add_argument("--tools", default="roots,datatrove,datasketch")
    parser.add_argument("--child", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.data / "MANIFEST.md").exists():
        parser.error(f"shared test data not found at {args.data}: pass --data DIR (or set ROOTS_SHARED_DATA)")
    if args.child:
        child(args.child, args.corpus, args.work, args.docs)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from dedup_corpus import drop_scores, make_corpus

    n_docs = 2_000 if args.quick else args.docs
    with tempfile.TemporaryDirectory(prefix="roots-dedup-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        truth = make_corpus(args.data, n_docs, corpus, per_shard=max(n_docs // 10, 1))
        print(f"{n_docs} documents in {len(list(corpus.iterdir()))} shards, "
              f"{n_docs - len(np.unique(truth))} near-duplicates; 5-gram MinHash, {BANDS} x {ROWS}")
        results = {}
        print(f"{'tool':<12} {'time s':>8} {'docs/s':>9} {'cpu s':>8} {'docs/cpu-s':>10} {'peak MB':>8} "
              f"{'precision':>9} {'recall':>7} {'F1':>6}")
        for tool in args.tools.split(","):
            work = Path(tmp) / tool
            work.mkdir()
            out = subprocess.run([sys.executable, __file__, "--child", tool, "--corpus", str(corpus),
                                  "--work", str(work), "--docs", str(n_docs)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{tool:<12} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            p, rec, f1 = drop_scores(np.load(work / "dropped.npy"), truth)
            results[tool] = r
            print(f"{tool:<12} {r['time_s']:>8.1f} {n_docs / r['time_s']:>9.0f} {r['cpu_s']:>8.1f} "
                  f"{n_docs / r['cpu_s']:>10.0f} {r['peak_mb']:>8.0f} {p:>9.3f} {rec:>7.3f} {f1:>6.3f}")
    roots_t = results.get("roots", {}).get("time_s", float("nan"))
    roots_cpu = results.get("roots", {}).get("cpu_s", float("nan"))
    for tool, goal in (("datasketch", 10), ("datatrove", 3)):
        if tool in results:
            print(f"speedup vs {tool}: {results[tool]['time_s'] / roots_t:.1f}x wall-clock, "
                  f"{results[tool]['cpu_s'] / roots_cpu:.1f}x in CPU time (goal {goal}x)")
    speedup = results["datatrove"]["time_s"] / roots_t if "datatrove" in results else float("nan")
    print(f"RESULT speedup_vs_datatrove {speedup:.2f} goal 3.0")


if __name__ == "__main__":
    main()
