from __future__ import annotations

import numpy as np
import pytest

from roots.data.dedup.unionfind import UnionFind


def reference_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest member of each connected component, via scipy's connected_components."""
    sparse = pytest.importorskip("scipy.sparse")
    csgraph = pytest.importorskip("scipy.sparse.csgraph")
    coo_matrix, connected_components = sparse.coo_matrix, csgraph.connected_components

    _, comp = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    smallest = np.full(comp.max() + 1, n)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


def test_matches_scipy_on_random_graphs():
    rng = np.random.default_rng(0)
    for n, m in [(10, 5), (1000, 700), (5000, 6000)]:
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        uf = UnionFind(n)
        for chunk in np.array_split(np.arange(m), 3):  # edges arrive in batches, as bands do
            uf.union(a[chunk], b[chunk])
        np.testing.assert_array_equal(uf.labels(), reference_labels(n, a, b))


def test_long_chain_and_resume_from_saved_parent():
    n = 2000
    uf = UnionFind(n)
    uf.union(np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1))  # a path: worst case for pointer jumping
    assert (uf.labels() == 0).all()
    half = UnionFind(6)
    half.union(np.array([5]), np.array([3]))
    resumed = UnionFind(6, half.parent.copy())
    resumed.union(np.array([3, 1]), np.array([0, 2]))
    assert resumed.labels().tolist() == [0, 1, 1, 0, 4, 0]
