"""Dedup decisions are keyed by a document's position in the run, never by its id.

Ids come from the data: two JSONL files numbered 0..N, or a byte copy of a WARC file (same record ids),
must never make a step drop a distinct document, and exact copies must still collapse to one survivor.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from roots.common.io import read_json
from roots.data.corpus import iter_corpus
from roots.data.pipeline import CurateConfig, run_curation

from .conftest import random_text

STEPS = {
    "exact_dedup": "exact_dedup: {}",
    "url_dedup": "url_dedup: {}",
    "minhash_dedup": "minhash_dedup: {preset: fineweb}",
    "simhash_dedup": "simhash_dedup: {}",
    "substring_dedup": "substring_dedup: {min_length: 20}",
}


def curate(tmp_path: Path, name: str, step: str, inputs: list[Path], workers: int = 1) -> list:
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(f"name: {name}\nsteps:\n  - {step}\n")
    out = tmp_path / f"out-{name}"
    run_curation(CurateConfig(recipe=str(recipe), input=[str(p) for p in inputs], output=out, workers=workers))
    return list(iter_corpus(out))


def write_jsonl(path: Path, texts: list[str], urls: bool = False) -> Path:
    records = [{"id": str(i), "text": t, **({"url": f"https://{path.stem}.example/{i}"} if urls else {})}
               for i, t in enumerate(texts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("step", list(STEPS))
def test_colliding_ids_across_files_drop_nothing_distinct(tmp_path, rng, step):
    """Two files with ids 0..29 and unrelated texts: every step keeps all 60 documents."""
    a = write_jsonl(tmp_path / "a.jsonl", [random_text(rng, 60) for _ in range(30)], urls=True)
    b = write_jsonl(tmp_path / "b.jsonl", [random_text(rng, 60) for _ in range(30)], urls=True)
    kept = curate(tmp_path, step, STEPS[step], [a, b])
    assert len(kept) == 60
    assert Counter(d.id for d in kept) == Counter({str(i): 2 for i in range(30)})


@pytest.mark.parametrize("step", ["exact_dedup", "url_dedup", "minhash_dedup", "simhash_dedup"])
def test_a_byte_copy_of_a_file_keeps_exactly_one_copy(tmp_path, rng, step):
    a = write_jsonl(tmp_path / "a.jsonl", [random_text(rng, 60) for _ in range(20)], urls=True)
    shutil.copy(a, tmp_path / "b.jsonl")
    alone = curate(tmp_path, f"{step}-alone", STEPS[step], [a])
    both = curate(tmp_path, step, STEPS[step], [a, tmp_path / "b.jsonl"], workers=2)
    assert [(d.id, d.text) for d in both] == [(d.id, d.text) for d in alone]
    assert {d.metadata["source"] for d in both} == {"a.jsonl"}  # the copy at the lowest position survives


def test_a_byte_copy_of_a_real_warc_keeps_one_copy(tmp_path, shared_data):
    warc = shared_data / "web/warc/commoncrawl_CC-MAIN-2020-34_excerpt.warc.gz"
    copy = tmp_path / "copy.warc.gz"
    shutil.copy(warc, copy)
    alone = curate(tmp_path, "alone", "exact_dedup: {}", [warc])
    both = curate(tmp_path, "both", "exact_dedup: {}", [warc, copy])
    assert len(alone) >= 10
    assert [(d.id, d.text) for d in both] == [(d.id, d.text) for d in alone]
    stats = read_json(tmp_path / "out-both" / "stats.json")
    assert stats["steps"][0]["dropped"] == {"exact_duplicate": len(alone)}
