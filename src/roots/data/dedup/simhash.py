"""SimHash near-duplicate removal (ROOTS: 64-bit fingerprints of 6-token windows, Hamming <= 4).

Fingerprint (Charikar 2002): bit i is set when most of the document's shingle hashes have bit i set.
Candidates (Manku et al. 2007): the 64 bits are cut into `blocks` blocks; two fingerprints within
Hamming distance k differ in at most k blocks, so with 6 blocks and k = 4 they agree exactly on at
least 2: each pair of blocks is one key slot (15 slots), and candidates sharing a key are confirmed
by their true Hamming distance before being linked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from roots.common.errors import UserError
from roots.data.dedup.engine import KeyBatch, KeyedDedup
from roots.data.dedup.text import Normalization, mix64, text_shingles
from roots.data.document import Document


def fingerprints(shingle_sets: list[np.ndarray]) -> np.ndarray:
    """(n,) uint64 SimHash of each non-empty set of uint64 shingle hashes."""
    lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.intp, count=len(shingle_sets))
    if len(shingle_sets) == 0:
        return np.zeros(0, np.uint64)
    bits = np.unpackbits(np.concatenate(shingle_sets).view(np.uint8)).reshape(-1, 64)  # (S, 64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ones = np.add.reduceat(bits.astype(np.int32), starts, axis=0)  # (n, 64)
    majority = (2 * ones > lengths[:, None]).astype(np.uint8)
    return np.packbits(majority, axis=1).view(np.uint64).ravel()


def block_masks(blocks: int, agree: int) -> list[np.uint64]:
    """One mask per combination of `agree` blocks out of `blocks` near-equal blocks of the 64 bits."""
    edges = np.linspace(0, 64, blocks + 1).round().astype(int)
    block = [sum(1 << b for b in range(lo, hi)) for lo, hi in itertools.pairwise(edges)]
    return [np.uint64(sum(block[i] for i in combo)) for combo in itertools.combinations(range(blocks), agree)]


@dataclass
class SimHashDedup(KeyedDedup):
    """Drop documents whose SimHash is within `max_distance` bits of an earlier document's."""

    name = "simhash_dedup"
    drop_reason = "simhash_duplicate"
    ngram: int = 6
    max_distance: int = 4
    blocks: int = 6
    normalization: Normalization = "full"
    cluster_ids: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_distance < self.blocks <= 64:
            raise UserError("simhash_dedup: need 0 <= max_distance < blocks <= 64")
        self._masks = block_masks(self.blocks, self.blocks - self.max_distance)

    def key_slots(self) -> int:
        return len(self._masks)

    def doc_keys(self, docs: list[Document]) -> KeyBatch:
        shingles = [text_shingles(d.text, self.ngram, self.normalization) for d in docs]
        valid = np.array([len(s) > 0 for s in shingles], dtype=bool)
        fp = np.zeros(len(docs), dtype=np.uint64)
        fp[valid] = fingerprints([s for s in shingles if len(s)])
        keys = np.stack([mix64(fp & m) for m in self._masks]) if len(docs) else np.zeros((len(self._masks), 0))
        return KeyBatch(keys.astype(np.uint64), valid, payload=fp)

    def verify_fn(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        k = self.max_distance
        return lambda a, b: popcount(a ^ b) <= k


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per uint64 (np.bitwise_count from numpy 2.0; unpackbits before)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return np.unpackbits(np.ascontiguousarray(x).view(np.uint8)).reshape(-1, 64).sum(axis=1)


def simhash_dedup(texts: list[str], **params) -> list[int]:
    """Indices of the texts kept by SimHash dedup (in-memory, same code as the step)."""
    return SimHashDedup(**params).dedup_texts(texts)
