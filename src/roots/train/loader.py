"""Memory-mapped token shards and a resumable random-window loader (nanoGPT's get_batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from roots.common.errors import UserError
from roots.common.io import atomic_write, read_json, write_json

SHARDS_FORMAT = "roots.token_shards"


class TokenShards:
    """One split of a token-shards folder: the raw little-endian files, memory-mapped, seen as one stream."""

    def __init__(self, directory: str | Path, split: str) -> None:
        self.directory = Path(directory)
        self.meta = read_shards_meta(self.directory)
        splits = self.meta.get("splits", {})
        if split not in splits:
            raise UserError(f"{self.directory}/meta.json has no {split!r} split (has: {sorted(splits)})")
        dtype = np.dtype(self.meta["dtype"]).newbyteorder("<")
        self.arrays = []
        for name in splits[split]["files"]:
            path = self.directory / name
            if not path.exists():
                raise UserError(f"{path}: listed in meta.json but missing")
            if path.stat().st_size % dtype.itemsize:
                raise UserError(f"{path}: size is not a multiple of {dtype.itemsize} bytes; truncated file?")
            if path.stat().st_size:
                self.arrays.append(np.memmap(path, dtype=dtype, mode="r"))
        # windows may cross file boundaries: offsets of each file in the concatenated stream
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        self.num_tokens = int(self.offsets[-1])

    def window(self, start: int, length: int) -> np.ndarray:
        """Tokens [start, start + length) of the split, as int64."""
        out = np.empty(length, dtype=np.int64)
        i = int(np.searchsorted(self.offsets, start, side="right")) - 1
        filled = 0
        while filled < length:
            a, lo = self.arrays[i], start + filled - int(self.offsets[i])
            n = min(length - filled, len(a) - lo)
            out[filled : filled + n] = a[lo : lo + n]
            filled, i = filled + n, i + 1
        return out


def write_token_shards(directory: str | Path, splits: dict[str, np.ndarray], vocab_size: int,
                       tokenizer_dir: str | None = None, eos_id: int | None = None) -> Path:
    """Write one shard per split in the token-shards format (a minimal writer for tests and benchmarks;
    `roots tokenize` writes the same format from a corpus)."""
    from roots.common.records import artifact_meta

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dtype = np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")
    entries = {}
    for split, tokens in splits.items():
        name = f"{split}_00000.bin"
        with atomic_write(directory / name, "wb") as f:
            f.write(np.asarray(tokens).astype(dtype).tobytes())
        entries[split] = {"files": [name], "tokens": len(tokens), "documents": 1}
    write_json(directory / "meta.json", artifact_meta(
        SHARDS_FORMAT, 1, dtype=dtype.name, vocab_size=vocab_size, eos_id=eos_id, bos_id=None, pad_id=None,
        tokenizer_dir=tokenizer_dir, tokenizer_sha256=None, splits=entries))
    return directory


def read_shards_meta(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "meta.json"
    if not path.exists():
        raise UserError(f"{directory}: no meta.json; expected a token-shards folder written by `roots tokenize`")
    meta = read_json(path)
    if meta.get("format") != SHARDS_FORMAT or meta.get("format_version") != 1:
        raise UserError(f"{path}: format {meta.get('format')!r} v{meta.get('format_version')} is not "
                        f"{SHARDS_FORMAT!r} v1")
    if meta.get("dtype") not in ("uint16", "uint32"):
        raise UserError(f"{path}: dtype must be uint16 or uint32, got {meta.get('dtype')!r}")
    return meta


class RandomWindowLoader:
    """Random (input, target) windows of `block_size` tokens, drawn with a seeded generator.

    Each step draws the windows of the whole global batch (all processes, all micro-batches) at once and
    this process keeps its share, so the same seed gives the same global batch for any number of
    processes. The generator state is all there is to checkpoint for an exact resume.
    """

    def __init__(self, shards: TokenShards, batch_size: int, block_size: int, grad_accum: int = 1,
                 seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if shards.num_tokens < block_size + 2:
            raise UserError(f"{shards.directory}: split has {shards.num_tokens} tokens, fewer than one window "
                            f"of block_size + 1 = {block_size + 1}")
        self.shards, self.batch_size, self.block_size = shards, batch_size, block_size
        self.grad_accum, self.rank, self.world_size = grad_accum, rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    def next_step(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This process's `grad_accum` micro-batches of (x, y), each (batch_size, block_size) int64."""
        n = self.world_size * self.grad_accum * self.batch_size
        starts = torch.randint(self.shards.num_tokens - self.block_size, (n,), generator=self.generator)
        # rank r's micro-batch k = global windows [(r * accum + k) * B, ... + B): one process with
        # accum = A * W sees exactly the windows W processes with accum = A see together
        mine = starts.view(self.world_size, self.grad_accum, self.batch_size)[self.rank]
        return [self._batch(row) for row in mine]

    def _batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        windows = np.stack([self.shards.window(int(s), self.block_size + 1) for s in starts])
        xy = torch.from_numpy(windows)
        return xy[:, :-1], xy[:, 1:]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
