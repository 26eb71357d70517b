"""Connected components of a duplicate graph, vectorized over edge batches.

Documents are ints (their index in corpus order). Every component is labelled by its smallest
member, so "the survivor of a cluster" is simply its first document in corpus order: deterministic
whatever the order in which edges arrive.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    """`parent[i]` converges to the smallest index connected to i (min-label propagation)."""

    def __init__(self, n: int, parent: np.ndarray | None = None):
        self.parent = np.arange(n, dtype=np.int64) if parent is None else parent
        self._compress()  # `union` relies on every entry pointing at its root

    def _compress(self) -> None:
        while True:  # pointer jumping: O(log depth) passes
            grand = self.parent[self.parent]
            if np.array_equal(grand, self.parent):
                return
            self.parent = grand

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Merge the components of a[i] and b[i] for every i."""
        if len(a) == 0:
            return
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        while True:
            ra, rb = self.parent[a], self.parent[b]
            differ = ra != rb
            if not differ.any():
                return
            ra, rb = ra[differ], rb[differ]
            lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
            np.minimum.at(self.parent, hi, lo)  # hang the larger root under the smaller
            self._compress()
            a, b = a[differ], b[differ]

    def labels(self) -> np.ndarray:
        """(n,) the smallest index of each document's component."""
        self._compress()
        return self.parent
