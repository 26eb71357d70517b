"""Corpus-wide steps on an executor decide exactly as they do on their own (no Ray needed).

With an executor of several workers, KeyedDedup clusters groups of key slots in parallel tasks and
merges their links on the driver; substring_dedup builds one suffix array per chunk per task. Both must
drop the same documents (and cut the same spans) as the single-process path of the dedup branch.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from roots.data.corpus import iter_shard
from roots.data.dedup.minhash import MinHashDedup
from roots.data.dedup.simhash import SimHashDedup
from roots.data.dedup.substring import SubstringDedup
from roots.data.document import Document
from roots.data.executors import LocalExecutor
from roots.data.writers import ShardWriter


@pytest.fixture(scope="module")
def shards(tmp_path_factory, shared_data) -> list[Path]:
    """960 real summaries in 60 near-duplicate clusters, over 4 roots shards."""
    folder = tmp_path_factory.mktemp("shards")
    with gzip.open(shared_data / "dedup/cnndm_reference_variants_shared.jsonl.gz", "rt") as f:
        records = [json.loads(line) for line in f]
    paths = []
    for k in range(4):
        with ShardWriter(folder, f"{k:05d}") as writer:
            for i, r in enumerate(records[k::4]):
                writer.write(Document(r["text"], f"c{r['cluster_id']}-{k}-{i}"))
        paths += [Path(s["path"]) for s in writer.shards]
    return paths


def decisions(step, shards: list[Path], work_dir: Path, executor=None) -> dict[str, tuple]:
    step.prepare(shards, work_dir, 1, executor=executor)
    step.setup()
    out = {}
    for i, shard in enumerate(shards):
        for doc in iter_shard(shard, index=i):
            out[doc.id] = (step.process(doc), doc.text)
    return out


@pytest.mark.parametrize(("make_step", "task_files"), [
    (lambda: MinHashDedup(preset="fineweb"), "cluster/slots_*.npy"),
    (lambda: SimHashDedup(max_distance=5, blocks=6), "cluster/slots_*.npy"),
    (lambda: SubstringDedup(min_length=20, chunk_units=4000), "chunks/*.npz"),
], ids=["minhash", "simhash", "substring"])
def test_a_two_worker_executor_gives_the_single_process_decisions(make_step, task_files, shards, tmp_path):
    original = {d.id: d.text for shard in shards for d in iter_shard(shard)}
    alone = decisions(make_step(), shards, tmp_path / "alone")
    with LocalExecutor(2) as executor:
        spread = decisions(make_step(), shards, tmp_path / "spread", executor)
    assert spread == alone
    touched = sum(reason is not None or text != original[i] for i, (reason, text) in alone.items())
    assert touched > 50, "the step must drop or edit documents for the comparison to mean anything"
    assert len(list((tmp_path / "spread").glob(task_files))) > 1, "the work was spread over several tasks"
