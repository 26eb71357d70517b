from __future__ import annotations

import random

import numpy as np
import pytest

from roots.common.errors import UserError
from roots.data.dedup.simhash import SimHashDedup, block_masks, fingerprints, popcount, simhash_dedup
from roots.data.dedup.text import text_shingles
from roots.data.document import Document

from .conftest import random_text, run_step, write_shards


def test_fingerprint_is_bitwise_majority():
    shingles = np.array([0b1011, 0b0011, 0b1000], dtype=np.uint64)
    assert fingerprints([shingles, shingles[:1]]).tolist() == [0b1011, 0b1011]


def test_masks_cover_every_pair_of_blocks():
    masks = block_masks(6, 2)
    assert len(masks) == 15
    assert all(20 <= bin(int(m)).count("1") <= 22 for m in masks)
    assert int(np.bitwise_or.reduce(np.array(masks))) == 2**64 - 1


def test_near_duplicates_within_distance_are_linked(tmp_path, rng):
    docs = []
    for c in range(5):
        base = random_text(rng, 400)
        words = base.split()
        words[100] = "edited"
        docs += [{"id": f"c{c}a", "text": base, "metadata": {}},
                 {"id": f"c{c}b", "text": " ".join(words).upper(), "metadata": {}}]  # case is normalized away
    docs += [{"id": f"s{i}", "text": random_text(rng, 400), "metadata": {}} for i in range(20)]
    result = run_step(SimHashDedup(), write_shards(tmp_path / "in", docs, 6), tmp_path / "work", workers=2)
    step = SimHashDedup()
    fp = step.doc_keys([Document(d["text"], d["id"])
                        for d in docs]).payload
    distance = [int(popcount(fp[2 * c] ^ fp[2 * c + 1])) for c in range(5)]
    expected = {f"c{c}b" for c in range(5) if distance[c] <= 4}
    assert expected and {k for k, v in result.items() if v} == expected
    assert set(result.values()) == {None, "simhash_duplicate"}


def test_in_memory_short_and_empty_texts():
    texts = ["", "a b", "a b", "c", random_text(random.Random(1), 50)]
    assert simhash_dedup(texts) == [0, 1, 3, 4]
    assert len(text_shingles("a b", 6)) == 1


def test_bad_parameters():
    with pytest.raises(UserError):
        SimHashDedup(max_distance=6, blocks=6)


def test_popcount_fallback_matches(monkeypatch):
    from roots.data.dedup import simhash

    x = np.array([0, 1, 2**64 - 1, 0b1011 << 40], dtype=np.uint64)
    expected = [0, 1, 64, 3]
    assert simhash.popcount(x).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert simhash.popcount(x).tolist() == expected
