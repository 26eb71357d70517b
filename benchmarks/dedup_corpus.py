"""A large corpus made from real text with controlled near-duplicates (for the dedup benchmarks).

Sentences come from real English text in ../shared/data (WikiText-2, news article bodies, CNN/DM
articles). Each original document is 8-24 sentences drawn at random from that pool; a fraction of
the documents are copies of an earlier original with 0-2% of their words replaced, so the true
clusters (an original and its copies) are known.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentence_pool(data: Path) -> list[str]:
    texts = []
    for split in ("valid", "test"):
        with gzip.open(data / "lm" / "wikitext-2" / f"{split}.txt.gz", "rt") as f:
            texts += [line.strip() for line in f if len(line.split()) > 20 and not line.strip().startswith("=")]
    with gzip.open(data / "web" / "html_extraction" / "scrapinghub_article_extraction_benchmark.jsonl.gz", "rt") as f:
        texts += [json.loads(line)["gold_article_body"] for line in f]
    with gzip.open(data / "eval" / "summarization" / "realsumm_cnndm_shared.jsonl.gz", "rt") as f:
        texts += [json.loads(line)["source"] for line in f]
    pool = {s.strip() for t in texts for s in _SENTENCE.split(t) if len(s.split()) >= 6}
    return sorted(pool)


def make_corpus(data: Path, n_docs: int, out: Path, per_shard: int = 10_000, dup_fraction: float = 0.2,
                seed: int = 0, suffix: str = ".jsonl.gz") -> np.ndarray:
    """Write `n_docs` documents as shards under `out`; returns the true cluster (original index) of each."""
    import zstandard

    rng = random.Random(seed)
    pool = sentence_pool(data)
    vocab = sorted({w for s in pool[:5000] for w in s.split()})
    out.mkdir(parents=True, exist_ok=True)
    truth = np.empty(n_docs, dtype=np.int64)
    originals: list[int] = []
    texts: dict[int, str] = {}
    lines: list[str] = []
    shard = 0

    def flush() -> None:
        nonlocal shard
        payload = "".join(lines).encode()
        path = out / f"part-{shard:05d}{suffix}"
        if suffix.endswith(".zst"):
            path.write_bytes(zstandard.ZstdCompressor(level=1).compress(payload))
        else:
            path.write_bytes(gzip.compress(payload, compresslevel=1))
        lines.clear()
        shard += 1

    for i in range(n_docs):
        if originals and rng.random() < dup_fraction:
            src = rng.choice(originals)
            words = texts[src].split()
            for _ in range(int(len(words) * rng.uniform(0, 0.02))):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            text, truth[i] = " ".join(words), src
        else:
            text = " ".join(rng.choices(pool, k=rng.randint(8, 24)))
            truth[i] = i
            originals.append(i)
            texts[i] = text
        lines.append(json.dumps({"id": f"doc-{i}", "text": text, "metadata": {}}) + "\n")
        if len(lines) == per_shard:
            flush()
    if lines:
        flush()
    return truth


def drop_scores(dropped: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of the dropped set against the true duplicates (all but the first of each
    true cluster). `dropped` is a boolean (N,) array."""
    index = np.arange(len(truth))
    first = np.full(truth.max() + 1, len(truth))
    np.minimum.at(first, truth, index)
    should = first[truth] != index
    tp = int((dropped & should).sum())
    p = tp / max(int(dropped.sum()), 1)
    r = tp / max(int(should.sum()), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


if __name__ == "__main__":  # python dedup_corpus.py DATA N_DOCS OUT PER_SHARD SUFFIX: writes OUT/truth.npy too
    data, n_docs, out, per_shard, suffix = sys.argv[1:6]
    truth = make_corpus(Path(data), int(n_docs), Path(out), per_shard=int(per_shard), suffix=suffix)
    np.save(Path(out) / "truth.npy", truth)
