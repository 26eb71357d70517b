"""Small generated corpora written as real intermediate shards (zstd JSONL), as the executor does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import zstandard

from roots.data.corpus import iter_shard
from roots.data.document import Document

VOCAB = ("river mountain engine paper garden silver window market orange doctor travel music planet "  # noqa: SIM905
         "bridge winter coffee letter island camera forest yellow school thunder pocket circle ladder "
         "pencil violin harbor castle rocket").split()


def random_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(VOCAB) + str(rng.randrange(50)) for _ in range(n_words))


def write_shards(folder: Path, docs: list[dict], per_shard: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(0, len(docs), per_shard):
        path = folder / f"part-{i // per_shard:05d}.jsonl.zst"
        lines = "".join(json.dumps(d) + "\n" for d in docs[i:i + per_shard])
        path.write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
        paths.append(path)
    return paths


def run_step(step, shards: list[Path], work_dir: Path, workers: int = 1) -> dict[str, str | None]:
    """prepare + setup + process over every shard: doc id -> drop reason (None = kept)."""
    step.prepare(shards, work_dir, workers)
    step.setup()
    return {d.id: step.process(d) for i, s in enumerate(shards) for d in iter_shard(s, index=i)}


def process_all(step, shards: list[Path]) -> list[Document]:
    step.setup()
    out = []
    for i, s in enumerate(shards):
        for d in iter_shard(s, index=i):
            if step.process(d) is None:
                out.append(d)
    return out


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0)
