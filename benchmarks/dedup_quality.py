"""Near-duplicate detection quality on documents with known clusters.

Input: ../shared/data/dedup/cnndm_reference_variants_shared.jsonl.gz (960 texts in 60 clusters: one
CNN/DM reference summary re-processed by different systems: casing, tokenization, <t> tags, '#' for
'£', truncation) plus as many unrelated real paragraphs (WikiText-2 valid) as distractors. Every
method clusters all texts; pairwise precision / recall / F1 over same-cluster pairs are printed for
exact dedup, roots MinHash (each preset), roots SimHash, and datasketch's MinHashLSH (the anchor,
fed the same shingles with FineWeb's 14 x 8).

    python benchmarks/dedup_quality.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np

from roots.data.dedup.exact import ExactDedup
from roots.data.dedup.minhash import PRESETS, MinHashDedup
from roots.data.dedup.simhash import SimHashDedup
from roots.data.dedup.text import text_shingles
from roots.data.dedup.unionfind import UnionFind
from roots.data.document import Document

REPO = Path(__file__).resolve().parent.parent


def load(data: Path) -> tuple[list[str], np.ndarray]:
    with gzip.open(data / "dedup" / "cnndm_reference_variants_shared.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    with gzip.open(data / "lm" / "wikitext-2" / "valid.txt.gz", "rt") as f:
        paragraphs = [p.strip() for p in f if len(p.split()) > 40 and not p.strip().startswith("=")]
    distractors = paragraphs[: len(rows)]
    texts = [r["text"] for r in rows] + distractors
    names = {c: i for i, c in enumerate(sorted({r["cluster_id"] for r in rows}))}
    truth = np.array([names[r["cluster_id"]] for r in rows] + list(range(len(names), len(names) + len(distractors))))
    return texts, truth


def pairwise_scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 over unordered pairs placed in the same cluster."""
    def pairs(lab: np.ndarray) -> int:
        counts = np.unique(lab, return_counts=True)[1]
        return int((counts * (counts - 1) // 2).sum())

    joint = labels.astype(np.int64) * (int(truth.max()) + 1) + truth
    tp, predicted, actual = pairs(joint), pairs(labels), pairs(truth)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def datasketch_labels(texts: list[str], bands: int, rows: int, ngram: int) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=bands * rows, params=(bands, rows))
    sigs = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=bands * rows, seed=1)
        m.update_batch([int(x).to_bytes(8, "little") for x in text_shingles(t, ngram)])
        sigs.append(m)
        lsh.insert(i, m)
    uf = UnionFind(len(texts))
    for i, m in enumerate(sigs):
        near = np.array(lsh.query(m), dtype=np.int64)
        uf.union(np.full(len(near), i), near)
    return uf.labels()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ROOTS_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--quick", action="store_true", help="same data (it is small); skips nothing")
    args = parser.parse_args()
    if not (args.data / "MANIFEST.md").exists():
        parser.error(f"shared test data not found at {args.data}: pass --data DIR (or set ROOTS_SHARED_DATA)")
    texts, truth = load(args.data)
    docs = [Document(t, str(i)) for i, t in enumerate(texts)]
    print(f"{len(texts)} texts: {len(set(truth[:960]))} clusters of near-duplicates + {len(texts) - 960} distractors")

    methods = {
        "exact (none)": ExactDedup(),
        "exact (full normalization)": ExactDedup(normalization="full"),
        **{f"minhash {p} ({PRESETS[p]['ngram']}-gram, {PRESETS[p]['bands']}x{PRESETS[p]['rows']})":
           MinHashDedup(preset=p) for p in PRESETS},
        "simhash (6-gram, 64 bit, <=4)": SimHashDedup(),
    }
    results = {}
    print(f"{'method':<42} {'precision':>9} {'recall':>7} {'F1':>6} {'time s':>7}")
    for name, step in methods.items():
        start = time.perf_counter()
        labels = step.cluster_docs(docs)
        elapsed = time.perf_counter() - start
        results[name] = pairwise_scores(labels, truth)
        print(f"{name:<42} {results[name][0]:>9.3f} {results[name][1]:>7.3f} {results[name][2]:>6.3f} {elapsed:>7.2f}")
    start = time.perf_counter()
    anchor = pairwise_scores(datasketch_labels(texts, 14, 8, 5), truth)
    print(f"{'anchor: datasketch MinHashLSH (5-gram, 14x8)':<42} {anchor[0]:>9.3f} {anchor[1]:>7.3f} "
          f"{anchor[2]:>6.3f} {time.perf_counter() - start:>7.2f}")
    f1 = results["minhash fineweb (5-gram, 14x8)"][2]
    print(f"RESULT minhash_fineweb_f1 {f1:.3f} goal 0.90")


if __name__ == "__main__":
    main()
