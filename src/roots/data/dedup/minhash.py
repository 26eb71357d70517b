"""MinHash LSH near-duplicate removal with the published presets.

Signature: the words of the normalized text form n-gram shingles hashed to 64 bits (text.py);
hash function i is multiply-shift, h_i(x) = ((a_i * x + b_i) mod 2^64) >> 32 with a_i odd
(Dietzfelbinger et al. 1997; universal, and uint64 numpy arithmetic wraps mod 2^64 natively, which
(a*x+b) mod (2^61-1) on 64-bit inputs would need 128-bit products for). The minimum over shingles is
taken for all hashes of a batch of documents in one (shingles, hashes) array. LSH: the signature is
cut into `bands` x `rows`; each band is hashed to one 64-bit key; documents sharing any band key are
linked, and clusters (union-find) keep their first document in corpus order.

Probability that a pair with Jaccard similarity J becomes a candidate, 1 - (1 - J^rows)^bands
(`python -m roots.data.dedup.minhash` prints this table):

    preset       ngram  bands x rows  hashes  J=0.5  J=0.6  J=0.7  J=0.75 J=0.8  J=0.85 J=0.9  J(P=0.5)
    refinedweb       5    450 x 20     9000   0.000  0.016  0.302  0.761  0.995  1.000  1.000  0.72
    massivetext     13     45 x 10      450   0.043  0.239  0.725  0.926  0.994  1.000  1.000  0.66
    fineweb          5     14 x 8       112   0.053  0.211  0.565  0.772  0.924  0.988  1.000  0.68

MassiveText (Gopher) publishes "13-grams, Jaccard > 0.8" but not its hash count. roots uses 450
hashes as 45 bands x 10 rows: among the factorizations of 450 it is the one that detects J = 0.8
pairs almost surely (0.994) while keeping J <= 0.6 pairs rare (<= 0.24); 30 x 15 misses a third of
the J = 0.8 pairs (0.66) and 50 x 9 already links 87% of the J = 0.7 pairs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

import numpy as np

from roots.common.errors import UserError
from roots.data.dedup.engine import KeyBatch, KeyedDedup
from roots.data.dedup.text import Normalization, mix64, text_shingles
from roots.data.document import Document

Preset = Literal["refinedweb", "massivetext", "fineweb", "custom"]
PRESETS: dict[str, dict] = {
    "refinedweb": {"ngram": 5, "bands": 450, "rows": 20, "normalization": "full"},
    "massivetext": {"ngram": 13, "bands": 45, "rows": 10, "normalization": "full"},
    "fineweb": {"ngram": 5, "bands": 14, "rows": 8, "normalization": "full"},
}
_ELEMENTS_PER_CHUNK = 1 << 15  # (shingles x hashes) computed at once: 256 KB of uint64 stays in cache
_BAND_MULT = np.uint64(0xD6E8FEB86659FD93)


def candidate_probability(jaccard: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(two documents with Jaccard similarity J share at least one band) = 1 - (1 - J^r)^b."""
    return 1.0 - (1.0 - np.asarray(jaccard, dtype=float) ** rows) ** bands


def s_curve_table(jaccards: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)) -> str:
    """The preset table of the module docstring, computed."""
    head = f"{'preset':<12} {'ngram':>5}  bands x rows  hashes " + "".join(f"  J={j:<5}" for j in jaccards)
    lines = [head + " J(P=0.5)"]
    grid = np.linspace(0, 1, 10001)
    for name, p in PRESETS.items():
        b, r = p["bands"], p["rows"]
        probs = "".join(f"  {float(candidate_probability(j, b, r)):<7.3f}" for j in jaccards)
        half = grid[np.searchsorted(candidate_probability(grid, b, r), 0.5)]
        lines.append(f"{name:<12} {p['ngram']:>5}  {b:>5} x {r:<3}  {b * r:>6} {probs} {half:.2f}")
    return "\n".join(lines)


class MinHasher:
    """num_perm multiply-shift hash functions drawn from `seed`; signatures are uint32."""

    def __init__(self, num_perm: int, seed: int = 1):
        if sys.byteorder != "little":
            raise RuntimeError("roots' MinHash reads the high half of uint64 words in little-endian order")
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
        self.num_perm = num_perm

    def _minimum(self, shingles: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(len(starts), num_perm) min-hashes of consecutive segments of `shingles` beginning at `starts`."""
        h = np.multiply(shingles[:, None], self.a)  # (S, P), wraps mod 2^64
        h += self.b
        high = h.view(np.uint32)[:, 1::2]  # (S, P) the high 32 bits (little-endian): ">> 32" without a pass
        return np.minimum.reduceat(high, starts, axis=0)

    def signatures(self, shingle_sets: list[np.ndarray]) -> np.ndarray:
        """(n, num_perm) uint32 signatures; every set must be non-empty."""
        out = np.empty((len(shingle_sets), self.num_perm), dtype=np.uint32)
        rows_per_chunk = max(16, _ELEMENTS_PER_CHUNK // self.num_perm)
        i = 0
        while i < len(shingle_sets):
            if len(shingle_sets[i]) > rows_per_chunk:  # one long document: running minimum over chunks
                s = shingle_sets[i]
                out[i] = np.min([self._minimum(s[k:k + rows_per_chunk], np.zeros(1, np.intp))[0]
                                 for k in range(0, len(s), rows_per_chunk)], axis=0)
                i += 1
                continue
            j, rows = i, 0  # a group of whole documents that fits one chunk
            while j < len(shingle_sets) and rows + len(shingle_sets[j]) <= rows_per_chunk:
                rows += len(shingle_sets[j])
                j += 1
            lengths = np.fromiter((len(s) for s in shingle_sets[i:j]), dtype=np.intp, count=j - i)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            out[i:j] = self._minimum(np.concatenate(shingle_sets[i:j]), starts)
            i = j
        return out


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands, n) uint64: one key per band of `rows` consecutive min-hashes."""
    sig = signatures.reshape(len(signatures), bands, rows).astype(np.uint64)
    acc = np.zeros((len(signatures), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            acc = (acc + sig[:, :, r]) * _BAND_MULT
    return mix64(acc).T.copy()


@dataclass
class MinHashDedup(KeyedDedup):
    """MinHash LSH near-duplicate removal; `preset` fills ngram/bands/rows/normalization (see module doc).

    With `cluster_ids`, documents in a cluster of several get `minhash_dedup_cluster` (the position key of
    the cluster's survivor, hex) and `minhash_dedup_cluster_size` in their metadata.
    """

    name = "minhash_dedup"
    drop_reason = "minhash_duplicate"
    preset: Preset = "refinedweb"
    ngram: int | None = None
    bands: int | None = None
    rows: int | None = None
    normalization: Normalization | None = None
    seed: int = 1
    cluster_ids: bool = False

    def __post_init__(self) -> None:
        if self.preset != "custom":
            if self.preset not in PRESETS:
                raise UserError(f"minhash_dedup: unknown preset {self.preset!r}; choose one of "
                                f"{', '.join([*PRESETS, 'custom'])}")
            for k, v in PRESETS[self.preset].items():
                if getattr(self, k) is None:
                    setattr(self, k, v)
        if None in (self.ngram, self.bands, self.rows):
            raise UserError("minhash_dedup: preset 'custom' needs ngram, bands and rows")
        if min(self.ngram, self.bands, self.rows) < 1:
            raise UserError("minhash_dedup: ngram, bands and rows must be >= 1")
        self.normalization = self.normalization or "full"
        self._hasher = MinHasher(self.bands * self.rows, self.seed)

    def key_slots(self) -> int:
        return self.bands

    def doc_keys(self, docs: list[Document]) -> KeyBatch:
        shingles = [text_shingles(d.text, self.ngram, self.normalization) for d in docs]
        valid = np.array([len(s) > 0 for s in shingles], dtype=bool)
        keys = np.zeros((self.bands, len(docs)), dtype=np.uint64)
        if valid.any():
            sigs = self._hasher.signatures([s for s in shingles if len(s)])
            keys[:, valid] = band_keys(sigs, self.bands, self.rows)
        return KeyBatch(keys, valid)


def minhash_dedup(texts: list[str], **params) -> list[int]:
    """Indices of the texts kept by MinHash dedup (in-memory, same code as the step)."""
    return MinHashDedup(**params).dedup_texts(texts)


if __name__ == "__main__":
    print(s_curve_table())
