"""Out-of-core clustering of documents that share a key, the machinery behind every dedup step.

A `KeyedDedup` step gives each document K uint64 keys (exact: 1 text hash; URL: 1 url hash;
MinHash: one key per LSH band; SimHash: one key per pair of fingerprint blocks). Documents that
share any key (and pass the step's optional `verify`) are linked; linked documents form clusters;
each cluster keeps its first document in corpus order and drops the rest.

`prepare` runs three resumable phases under `work_dir`:

Decisions are keyed by each document's `position` (input file index, record index; unique within the
run), never by its id: ids come from the data and repeat across files. Exact copies still collapse to
the copy at the lowest position.

1. keys/NNNNN/        per input shard (a process pool): position keys, and for every key slot
                      the keys sorted with their document positions. `keys/NNNNN.done` marks it.
2. cluster/state.npz  for each key slot and each key-range partition, the matching slices of every
                      shard are merged and sorted; runs of equal keys become edges of a numpy
                      union-find over global document indices. Partitions keep memory at about
                      `rows_per_partition` entries whatever the corpus size; the union-find state
                      is checkpointed every `_CHECKPOINT_S` seconds.
3. result/            the sorted position keys to drop (and cluster ids when asked) that `setup` loads
                      in every worker; `process` is then a binary search per document.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import mmap
import multiprocessing
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from roots.common.errors import UserError
from roots.common.io import atomic_write, read_json, write_json
from roots.common.records import artifact_meta
from roots.data.base import Step
from roots.data.corpus import iter_shard
from roots.data.dedup.unionfind import UnionFind
from roots.data.document import Document
from roots.data.executors import Executor

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: decisions keyed by document position, not id
_BATCH = 512  # documents per `doc_keys` call
_CHECKPOINT_S = 30.0
_MAX_PENDING_EDGES = 1 << 22
_VERIFY_WINDOW = 8  # neighbours checked inside a bucket when sharing a key is only a candidate


@dataclass
class KeyBatch:
    """Keys of a batch of n documents: keys (K, n) uint64; valid (n,) False = no key (e.g. no words)."""

    keys: np.ndarray
    valid: np.ndarray
    payload: np.ndarray | None = None  # (n,) uint64 passed to `verify` (e.g. SimHash fingerprints)


@dataclass
class ShardKeys:
    """The keys of one shard, sorted per key slot: what phase 2 merges."""

    ids: np.ndarray  # (n,) uint64 position keys of the documents (`Document.position_key`)
    skeys: np.ndarray  # (K, m) uint64, each row sorted; m = number of valid documents
    spos: np.ndarray  # (K, m) uint32 position in the shard of each sorted key
    payload: np.ndarray | None = None  # (n,) uint64

    @classmethod
    def build(cls, step: KeyedDedup, docs: Iterable[Document]) -> ShardKeys:
        """Keys of `docs`; documents without a position (in-memory lists) are keyed by their order."""
        ids, keys, valid, payload, batch = [], [], [], [], []
        seen = [0]

        def flush() -> None:
            kb = step.doc_keys(batch)
            ids.append(np.fromiter((d.position_key if d.position is not None else seen[0] + j
                                    for j, d in enumerate(batch)), dtype=np.uint64, count=len(batch)))
            seen[0] += len(batch)
            keys.append(kb.keys)
            valid.append(kb.valid)
            if kb.payload is not None:
                payload.append(kb.payload)
            batch.clear()

        for doc in docs:
            batch.append(doc)
            if len(batch) == _BATCH:
                flush()
        if batch:
            flush()
        n_slots = step.key_slots()
        if not ids:
            empty = np.zeros((n_slots, 0), dtype=np.uint64)
            return cls(np.zeros(0, np.uint64), empty, empty.astype(np.uint32), None)
        keys_all = np.concatenate(keys, axis=1)
        valid_all = np.concatenate(valid)
        positions = np.flatnonzero(valid_all).astype(np.uint32)
        kept = keys_all[:, positions]
        order = np.argsort(kept, axis=1, kind="stable")
        return cls(
            ids=np.concatenate(ids),
            skeys=np.take_along_axis(kept, order, axis=1),
            spos=positions[order],
            payload=np.concatenate(payload) if payload else None,
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ids", "skeys", "spos", "payload"):
            arr = getattr(self, name)
            if arr is not None:
                with atomic_write(folder / f"{name}.npy", "wb") as f:
                    np.save(f, arr)

    @classmethod
    def load(cls, folder: Path) -> ShardKeys:
        def get(name: str) -> np.ndarray | None:
            path = folder / f"{name}.npy"
            return np.load(path, mmap_mode="r") if path.exists() else None

        return cls(ids=get("ids"), skeys=get("skeys"), spos=get("spos"), payload=get("payload"))


def _run_edges(keys: np.ndarray, idx: np.ndarray, payload: np.ndarray | None,
               verify: Callable[[np.ndarray, np.ndarray], np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Edges between neighbours in key order that share a key (a chain spans each run of equals)."""
    if payload is not None:  # sort by payload inside runs so that similar fingerprints are neighbours
        order = np.lexsort((payload[idx], keys))
    else:
        order = np.argsort(keys, kind="stable")
    keys, idx = keys[order], idx[order]
    if verify is None:
        same = keys[1:] == keys[:-1]
        return idx[:-1][same], idx[1:][same]
    pairs_a, pairs_b = [], []
    for shift in range(1, _VERIFY_WINDOW + 1):  # candidates up to `shift` apart in a run of equal keys
        same = keys[shift:] == keys[:-shift]
        a, b = idx[:-shift][same], idx[shift:][same]
        ok = verify(payload[a], payload[b])
        pairs_a.append(a[ok])
        pairs_b.append(b[ok])
        if not same.any():
            break
    return np.concatenate(pairs_a), np.concatenate(pairs_b)


def cluster(shards: list[ShardKeys], step: KeyedDedup, rows_per_partition: int = 1 << 22,
            uf: UnionFind | None = None, start_slot: int = 0,
            checkpoint: Callable[[int, UnionFind], None] | None = None, progress: bool = False,
            stop_slot: int | None = None) -> np.ndarray:
    """Phase 2: (N,) cluster labels (the smallest global index of each document's cluster).

    Only key slots [start_slot, stop_slot) are read: a worker can cluster a few slots, and the links it
    finds merge with those of the other slots into the same components.
    """
    sizes = [len(s.ids) for s in shards]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(offsets[-1])
    if total == 0:  # nothing reached this step: nothing to link
        return np.zeros(0, dtype=np.int64)
    uf = uf or UnionFind(total)
    payload = (np.concatenate([np.asarray(s.payload) for s in shards])
               if shards and shards[0].payload is not None else None)
    n_valid = sum(s.skeys.shape[1] for s in shards)
    parts = max(1, -(-n_valid // rows_per_partition))
    bounds = np.array([(p << 64) // parts for p in range(1, parts)], dtype=np.uint64)
    cuts = [[np.concatenate([[0], np.searchsorted(s.skeys[j], bounds), [s.skeys.shape[1]]])
             for j in range(step.key_slots())] if parts > 1 else None for s in shards]
    slots = range(start_slot, step.key_slots() if stop_slot is None else stop_slot)
    if progress:
        from tqdm import tqdm

        slots = tqdm(slots, desc=f"{step.name}: clustering", unit="slot", initial=start_slot,
                     total=step.key_slots())
    pending_a: list[np.ndarray] = []
    pending_b: list[np.ndarray] = []
    last_save = time.monotonic()
    for j in slots:
        for p in range(parts):
            keys, idx = [], []
            for s, off, cut in zip(shards, offsets, cuts):
                lo, hi = (int(cut[j][p]), int(cut[j][p + 1])) if cut is not None else (0, s.skeys.shape[1])
                keys.append(np.asarray(s.skeys[j, lo:hi]))
                idx.append(np.asarray(s.spos[j, lo:hi]).astype(np.int64) + off)
            a, b = _run_edges(np.concatenate(keys), np.concatenate(idx), payload, step.verify_fn())
            pending_a.append(a)
            pending_b.append(b)
        for s in shards:  # the slot's key pages were read once: let them go (RSS stays bounded)
            _release(s.skeys)
            _release(s.spos)
        due = checkpoint is not None and time.monotonic() - last_save > _CHECKPOINT_S
        if due or sum(len(x) for x in pending_a) > _MAX_PENDING_EDGES:
            uf.union(np.concatenate(pending_a), np.concatenate(pending_b))
            pending_a.clear()
            pending_b.clear()
        if due:
            checkpoint(j + 1, uf)
            last_save = time.monotonic()
    if pending_a:
        uf.union(np.concatenate(pending_a), np.concatenate(pending_b))
    return uf.labels()


def _release(arr: np.ndarray) -> None:
    """Drop the resident pages of a memory-mapped array (they are re-read from the file if needed)."""
    m = getattr(arr, "_mmap", None)
    if m is not None and hasattr(mmap, "MADV_DONTNEED"):
        m.madvise(mmap.MADV_DONTNEED)


def _shard_keys_job(args: tuple[KeyedDedup, int, str, str]) -> int:
    step, index, shard, folder = args
    keys = ShardKeys.build(step, iter_shard(shard, index=index))
    keys.save(Path(folder))
    write_json(Path(folder + ".done"), {"shard": shard, "docs": len(keys.ids),
                                        "keyed_docs": int(keys.skeys.shape[1])})
    return len(keys.ids)


def _cluster_slots_job(args: tuple[KeyedDedup, list[str], int, int, str]) -> str:
    """Phase 2 on a worker for key slots [lo, hi): the links found, as (document, its component's root)."""
    step, folders, lo, hi, out = args
    keys = [ShardKeys.load(Path(f)) for f in folders]
    labels = cluster(keys, step, step.rows_per_partition, start_slot=lo, stop_slot=hi)
    linked = np.flatnonzero(labels != np.arange(len(labels)))
    with atomic_write(Path(out), "wb") as f:
        np.save(f, np.stack([linked, labels[linked]]))
    return out


class KeyedDedup(Step):
    """Base of the dedup steps: subclasses give keys per document; this class does the rest.

    Subclasses are dataclasses that set `name`, `drop_reason`, and implement `doc_keys` and
    `key_slots` (and `verify` when sharing a key is only a candidate, as in SimHash).
    """

    needs_corpus: ClassVar[bool] = True
    drop_reason: ClassVar[str] = "duplicate"
    cluster_ids: bool = False  # overridden as a dataclass field by the steps that offer it
    rows_per_partition: ClassVar[int] = 1 << 22  # bounds phase 2's memory (~60 bytes per row while sorting)

    # ---------------------------------------------------------------- what a subclass provides
    def doc_keys(self, docs: list[Document]) -> KeyBatch:
        raise NotImplementedError

    def key_slots(self) -> int:
        return 1

    def verify_fn(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
        """Optional check of candidate pairs from their payloads; None links every shared key."""
        return None

    # ---------------------------------------------------------------- in memory
    def cluster_docs(self, docs: list[Document]) -> np.ndarray:
        """Cluster labels of an in-memory list (index of each document's survivor), same code as on disk."""
        return cluster([ShardKeys.build(self, docs)], self, self.rows_per_partition).copy()

    def dedup_texts(self, texts: list[str]) -> list[int]:
        """Indices of the texts that survive (first of each cluster)."""
        labels = self.cluster_docs([Document(t, str(i)) for i, t in enumerate(texts)])
        return np.flatnonzero(labels == np.arange(len(labels))).tolist()

    # ---------------------------------------------------------------- on disk, resumable
    def _params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1,
                executor: Executor | None = None) -> None:
        work_dir = Path(work_dir)
        self._work_dir = work_dir
        fingerprint = {"step": self.name, "params": self._params(), "shards": [str(s) for s in shards]}
        meta_path = work_dir / "meta.json"
        if meta_path.exists():
            meta = read_json(meta_path)
            if ({k: meta.get(k) for k in fingerprint} != json.loads(json.dumps(fingerprint, default=str))
                    or meta.get("format_version") != FORMAT_VERSION):
                log.warning("%s: parameters or inputs changed since the last run; starting over", work_dir)
                shutil.rmtree(work_dir)
        if (work_dir / "result" / "summary.json").exists():
            return
        work_dir.mkdir(parents=True, exist_ok=True)
        write_json(meta_path, {**artifact_meta(f"roots.dedup.{self.name}", FORMAT_VERSION), **fingerprint})

        folders = [work_dir / "keys" / f"{i:05d}" for i in range(len(shards))]
        todo = [(self, i, str(s), str(f)) for i, (s, f) in enumerate(zip(shards, folders))
                if not Path(str(f) + ".done").exists()]
        self._run_jobs(_shard_keys_job, todo, workers, f"{self.name}: keys", executor)
        keys = [ShardKeys.load(f) for f in folders]
        if executor is not None and executor.workers > 1:
            labels = self._cluster_on(executor, keys, folders, work_dir / "cluster")
            self._write_result(work_dir / "result", keys, labels)
            return

        state_path = work_dir / "cluster" / "state.npz"
        uf, start = None, 0
        if state_path.exists():
            state = np.load(state_path)
            uf, start = UnionFind(len(state["parent"]), state["parent"].copy()), int(state["next_slot"])

        def checkpoint(next_slot: int, uf: UnionFind) -> None:
            with atomic_write(state_path, "wb") as f:
                np.savez(f, parent=uf.parent, next_slot=next_slot)

        labels = cluster(keys, self, self.rows_per_partition, uf, start, checkpoint, progress=True)
        self._write_result(work_dir / "result", keys, labels)
        log.info("%s: %s", self.name, read_json(work_dir / "result" / "summary.json"))

    def _cluster_on(self, executor: Executor, keys: list[ShardKeys], folders: list[Path], folder: Path
                    ) -> np.ndarray:
        """Phase 2 spread over `executor`: groups of key slots are clustered in parallel (each task reads
        its slots of every shard's sorted keys: the bucket shuffle goes through files), and the driver
        merges the links of every group into one union-find. A rerun redoes only missing groups."""
        bounds = np.linspace(0, self.key_slots(), min(self.key_slots(), 2 * executor.workers) + 1).astype(int)
        jobs = [(self, [str(f) for f in folders], int(lo), int(hi),
                 str(folder / f"slots_{lo:05d}_{hi:05d}.npy")) for lo, hi in itertools.pairwise(bounds)]
        folder.mkdir(parents=True, exist_ok=True)
        self._run_jobs(_cluster_slots_job, [j for j in jobs if not Path(j[-1]).exists()], 1,
                       f"{self.name}: clustering", executor)
        uf = UnionFind(sum(len(k.ids) for k in keys))
        for job in jobs:
            links = np.load(job[-1])
            uf.union(links[0], links[1])
        return uf.labels()

    def _run_jobs(self, fn: Callable, jobs: list, workers: int, desc: str,
                  executor: Executor | None = None) -> None:
        from tqdm import tqdm

        if not jobs:
            return
        if executor is not None:
            for _ in tqdm(executor.imap(fn, jobs), total=len(jobs), desc=desc, unit="job"):
                pass
            return
        if workers <= 1 or len(jobs) == 1:
            for job in tqdm(jobs, desc=desc, unit="shard"):
                fn(job)
            return
        with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
            for _ in tqdm(pool.imap_unordered(fn, jobs), total=len(jobs), desc=desc, unit="shard"):
                pass

    def _write_result(self, folder: Path, keys: list[ShardKeys], labels: np.ndarray) -> None:
        ids = np.concatenate([np.asarray(k.ids) for k in keys]) if keys else np.zeros(0, np.uint64)
        index = np.arange(len(labels))
        duplicate = labels != index
        drop = np.sort(ids[duplicate])
        with atomic_write(folder / "drop.npy", "wb") as f:
            np.save(f, drop)
        sizes = np.bincount(labels, minlength=len(labels))
        in_cluster = sizes[labels] > 1
        if self.cluster_ids:
            order = np.argsort(ids[in_cluster], kind="stable")
            with atomic_write(folder / "clusters.npz", "wb") as f:
                np.savez(f, ids=ids[in_cluster][order], root=ids[labels[in_cluster]][order],
                         size=sizes[labels[in_cluster]][order])
        write_json(folder / "summary.json", {
            "docs": len(ids), "keyed_docs": int(sum(k.skeys.shape[1] for k in keys)),
            "clusters": int(((sizes > 1) & (labels == index)).sum()), "docs_in_clusters": int(in_cluster.sum()),
            "duplicates": int(duplicate.sum()),
        })

    def setup(self) -> None:
        folder = getattr(self, "_work_dir", None)
        if folder is None or not (Path(folder) / "result" / "summary.json").exists():
            raise UserError(f"step {self.name} needs the whole corpus: run prepare() before process()")
        self._drop = np.load(Path(folder) / "result" / "drop.npy")
        self._clusters = dict(np.load(Path(folder) / "result" / "clusters.npz")) if self.cluster_ids else None

    def process(self, doc: Document) -> str | None:
        if not hasattr(self, "_drop"):
            self.setup()
        h = np.uint64(doc.position_key)
        if self._clusters is not None:
            ids = self._clusters["ids"]
            i = int(np.searchsorted(ids, h))
            if i < len(ids) and ids[i] == h:
                doc.metadata[f"{self.name}_cluster"] = f"{int(self._clusters['root'][i]):016x}"
                doc.metadata[f"{self.name}_cluster_size"] = int(self._clusters["size"][i])
        i = int(np.searchsorted(self._drop, h))
        return self.drop_reason if i < len(self._drop) and self._drop[i] == h else None
