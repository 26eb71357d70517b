from __future__ import annotations

import copy
import gzip
import json

import numpy as np
import pytest

from roots.common.errors import UserError
from roots.data.corpus import iter_shard
from roots.data.dedup.minhash import MinHashDedup, candidate_probability, minhash_dedup, s_curve_table
from roots.data.dedup.text import text_shingles
from roots.data.document import Document
from roots.data.registry import build_step

from .conftest import random_text, run_step, write_shards


def edit(rng, text: str, n_changes: int) -> str:
    words = text.split()
    for _ in range(n_changes):
        words[rng.randrange(len(words))] = "changed"
    return " ".join(words)


def near_dup_corpus(rng, n_clusters=8, copies=3, singles=30, n_words=300):
    """Clusters of a base text plus lightly edited copies (13-gram Jaccard >= 0.83), then unrelated texts."""
    docs, truth = [], {}
    for c in range(n_clusters):
        base = random_text(rng, n_words)
        for k in range(copies):
            docs.append({"id": f"c{c}-{k}", "text": base if k == 0 else edit(rng, base, 1), "metadata": {}})
            truth[f"c{c}-{k}"] = c
    for s in range(singles):
        docs.append({"id": f"s{s}", "text": random_text(rng, n_words), "metadata": {}})
    rng.shuffle(docs)
    return docs, truth


@pytest.mark.parametrize("preset", ["refinedweb", "massivetext", "fineweb"])
def test_presets_find_the_clusters_and_keep_the_first(tmp_path, rng, preset):
    docs, truth = near_dup_corpus(rng)
    shards = write_shards(tmp_path / "in", docs, per_shard=9)
    result = run_step(MinHashDedup(preset=preset), shards, tmp_path / "work", workers=2)
    first = {}
    for d in docs:  # corpus order = shard order then position
        if d["id"] in truth:
            first.setdefault(truth[d["id"]], d["id"])
    expected_dropped = {i for i in truth if first[truth[i]] != i}
    assert {i for i, r in result.items() if r} == expected_dropped
    assert set(result.values()) == {None, "minhash_duplicate"}


def test_partitioned_clustering_equals_in_memory(tmp_path, rng):
    docs, _ = near_dup_corpus(rng)
    shards = write_shards(tmp_path / "in", docs, per_shard=5)
    step = MinHashDedup(preset="fineweb")
    step.rows_per_partition = 7  # many key-range partitions: the bounded-memory path
    on_disk = run_step(step, shards, tmp_path / "work")
    kept = minhash_dedup([d["text"] for d in docs], preset="fineweb")
    assert sorted(i for i, d in enumerate(docs) if on_disk[d["id"]] is None) == kept


def test_cluster_ids_in_metadata(tmp_path, rng):
    docs, truth = near_dup_corpus(rng, n_clusters=2, singles=3)
    step = MinHashDedup(preset="fineweb", cluster_ids=True)
    shards = write_shards(tmp_path / "in", docs, 4)
    step.prepare(shards, tmp_path / "work", 1)
    step.setup()
    tagged = {}
    for i, shard in enumerate(shards):
        for doc in iter_shard(shard, index=i):
            step.process(doc)
            tagged[doc.id] = (doc.metadata.get("minhash_dedup_cluster"),
                              doc.metadata.get("minhash_dedup_cluster_size"))
    for i, c in truth.items():
        same = [j for j in truth if truth[j] == c]
        assert tagged[i][0] is not None and {tagged[j][0] for j in same} == {tagged[i][0]}
        assert tagged[i][1] == 3
    assert all(tagged[f"s{s}"] == (None, None) for s in range(3))


def test_resume_after_interrupted_prepare(tmp_path, rng, monkeypatch):
    docs, _ = near_dup_corpus(rng)
    shards = write_shards(tmp_path / "in", docs, per_shard=10)
    work = tmp_path / "work"
    step = MinHashDedup(preset="fineweb")
    reference = run_step(step, shards, work)
    # simulate a kill during phase 1 (shard 2 unfinished) that never reached phases 2-3
    (work / "keys" / "00002.done").unlink()
    for p in (work / "result").iterdir():
        p.unlink()
    untouched = (work / "keys" / "00000" / "skeys.npy").stat().st_mtime_ns
    built = []
    from roots.data.dedup import engine

    original = engine.ShardKeys.build
    monkeypatch.setattr(engine.ShardKeys, "build", classmethod(
        lambda cls, st, it: built.append(1) or original.__func__(cls, st, it)))
    resumed = run_step(MinHashDedup(preset="fineweb"), shards, work)
    assert resumed == reference
    assert len(built) == 1  # only the unfinished shard was redone
    assert (work / "keys" / "00000" / "skeys.npy").stat().st_mtime_ns == untouched


def test_resume_from_cluster_checkpoint(tmp_path, rng, monkeypatch):
    from roots.data.dedup import engine

    docs, _ = near_dup_corpus(rng)
    shards = write_shards(tmp_path / "in", docs, per_shard=10)
    reference = run_step(MinHashDedup(preset="fineweb"), shards, tmp_path / "ref")
    monkeypatch.setattr(engine, "_CHECKPOINT_S", -1.0)  # checkpoint after every band
    calls = []
    real_union = engine.UnionFind.union

    def dying_union(self, a, b):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt  # killed in the middle of phase 2
        return real_union(self, a, b)

    monkeypatch.setattr(engine.UnionFind, "union", dying_union)
    with pytest.raises(KeyboardInterrupt):
        MinHashDedup(preset="fineweb").prepare(shards, tmp_path / "work", 1)
    state = np.load(tmp_path / "work" / "cluster" / "state.npz")
    assert int(state["next_slot"]) == 5
    monkeypatch.setattr(engine.UnionFind, "union", real_union)
    assert run_step(MinHashDedup(preset="fineweb"), shards, tmp_path / "work") == reference


def test_changed_parameters_start_over(tmp_path, rng):
    docs, _ = near_dup_corpus(rng, n_clusters=2, singles=2)
    shards = write_shards(tmp_path / "in", docs, 4)
    run_step(MinHashDedup(preset="fineweb"), shards, tmp_path / "work")
    run_step(MinHashDedup(preset="massivetext"), shards, tmp_path / "work")
    meta = json.loads((tmp_path / "work" / "meta.json").read_text())
    assert meta["params"]["preset"] == "massivetext" and meta["format"] == "roots.dedup.minhash_dedup"
    assert np.load(tmp_path / "work" / "keys" / "00000" / "skeys.npy").shape[0] == 45


def test_short_and_empty_documents(tmp_path):
    texts = ["", "   ", "!!!", "one two three", "One two, three!", "one two four", "a b c d e f g"]
    kept = minhash_dedup(texts, preset="massivetext")  # 13-grams: short texts are one shingle
    assert kept == [0, 1, 2, 3, 5, 6]
    assert len(text_shingles("one two three", 13)) == 1 and len(text_shingles("...", 13)) == 0
    docs = [{"id": str(i), "text": t, "metadata": {}} for i, t in enumerate(texts)]
    result = run_step(MinHashDedup(preset="fineweb"), write_shards(tmp_path / "in", docs, 3), tmp_path / "w")
    assert {k for k, v in result.items() if v} == {"4"}
    summary = json.loads((tmp_path / "w" / "result" / "summary.json").read_text())
    assert summary["docs"] == 7 and summary["keyed_docs"] == 4 and summary["duplicates"] == 1


def test_signature_estimates_jaccard(rng):
    step = MinHashDedup(preset="custom", ngram=3, bands=64, rows=8)
    a = random_text(rng, 400)
    b = edit(rng, a, 40)
    sa, sb = set(text_shingles(a, 3).tolist()), set(text_shingles(b, 3).tolist())
    jaccard = len(sa & sb) / len(sa | sb)
    sig = step._hasher.signatures([text_shingles(a, 3), text_shingles(b, 3)])
    assert abs((sig[0] == sig[1]).mean() - jaccard) < 0.06


def test_s_curve_and_bad_config():
    assert candidate_probability(0.8, 450, 20) == pytest.approx(0.995, abs=1e-3)
    assert "massivetext" in s_curve_table()
    with pytest.raises(UserError, match="custom"):
        MinHashDedup(preset="custom")
    with pytest.raises(UserError, match="unknown preset"):
        MinHashDedup(preset="gopher")
    step = build_step("minhash_dedup", {"preset": "fineweb", "cluster_ids": True})
    assert (step.ngram, step.bands, step.rows) == (5, 14, 8)


def test_ground_truth_clusters(shared_data):
    with gzip.open(shared_data / "dedup" / "cnndm_reference_variants_shared.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    rows = rows[:240]
    labels = MinHashDedup(preset="massivetext").cluster_docs(
        [Document(r["text"], str(i)) for i, r in enumerate(rows)])
    same_pred = labels[:, None] == labels[None, :]
    truth = np.array([r["cluster_id"] for r in rows])
    same_true = truth[:, None] == truth[None, :]
    off = ~np.eye(len(rows), dtype=bool)
    tp = (same_pred & same_true & off).sum()
    assert tp / (same_pred & off).sum() > 0.95  # precision: distinct summaries are never merged
    assert tp / (same_true & off).sum() > 0.5


@pytest.mark.parametrize("name", ["exact_dedup", "minhash_dedup", "simhash_dedup", "substring_dedup"])
def test_step_survives_pickling_to_workers_after_prepare(tmp_path, rng, name):
    """The executor prepares in the driver and sends the step to worker processes."""
    import pickle

    docs, _ = near_dup_corpus(rng, n_clusters=2, singles=2)
    docs.append(dict(docs[0], id="exact-copy"))
    shards = write_shards(tmp_path / "in", docs, 4)
    step = build_step(name, {})
    step.prepare(shards, tmp_path / "work", 1)
    worker_copy = pickle.loads(pickle.dumps(step))
    worker_copy.setup()
    step.setup()
    read = [d for i, shard in enumerate(shards) for d in iter_shard(shard, index=i)]
    for d in read:
        a, b = copy.deepcopy(d), copy.deepcopy(d)
        assert worker_copy.process(a) == step.process(b) and a.text == b.text
    assert worker_copy.process(read[-1]) is not None
    fresh = build_step(name, {})
    with pytest.raises(UserError, match="prepare"):
        fresh.setup()
