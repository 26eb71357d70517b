from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from roots.common.errors import UserError
from roots.train.loader import RandomWindowLoader, TokenShards, write_token_shards


def _two_file_shards(tmp_path):
    """train split in two files (0..99 and 100..149), so windows can cross the boundary."""
    d = write_token_shards(tmp_path, {"train": np.arange(100), "val": np.arange(50)}, vocab_size=70_000)
    (d / "train_00001.bin").write_bytes(np.arange(100, 150, dtype="<u4").tobytes())
    meta = json.loads((d / "meta.json").read_text())
    meta["splits"]["train"]["files"].append("train_00001.bin")
    (d / "meta.json").write_text(json.dumps(meta))
    return d


def test_windows_cross_file_boundaries(tmp_path):
    shards = TokenShards(_two_file_shards(tmp_path), "train")
    assert shards.meta["dtype"] == "uint32" and shards.num_tokens == 150
    assert shards.window(95, 10).tolist() == list(range(95, 105))


def test_targets_are_inputs_shifted_by_one(tmp_path):
    loader = RandomWindowLoader(TokenShards(_two_file_shards(tmp_path), "train"), 3, 8, grad_accum=2, seed=0)
    batches = loader.next_step()
    assert len(batches) == 2
    for x, y in batches:
        assert x.shape == y.shape == (3, 8) and x.dtype == torch.int64
        assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y - x, torch.ones_like(x))


def test_ranks_split_the_global_batch(tmp_path):
    shards = TokenShards(_two_file_shards(tmp_path), "train")
    one = RandomWindowLoader(shards, 2, 8, grad_accum=4, seed=5).next_step()
    for rank in range(2):
        mine = RandomWindowLoader(shards, 2, 8, grad_accum=2, seed=5, rank=rank, world_size=2).next_step()
        for (x, _), (x1, _) in zip(mine, one[2 * rank : 2 * rank + 2]):
            assert torch.equal(x, x1)


def test_state_dict_resumes_the_stream(tmp_path):
    shards = TokenShards(_two_file_shards(tmp_path), "train")
    a = RandomWindowLoader(shards, 2, 8, seed=1)
    a.next_step()
    state = json.loads(json.dumps(a.state_dict()))  # it goes through state.json
    expected = a.next_step()[0][0]
    b = RandomWindowLoader(shards, 2, 8, seed=99)
    b.load_state_dict(state)
    assert torch.equal(b.next_step()[0][0], expected)


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "meta.json").unlink(), "no meta.json"),
    (lambda d: (d / "train_00000.bin").unlink(), "missing"),
    (lambda d: (d / "train_00000.bin").write_bytes(b"\x00" * 7), "truncated"),
    (lambda d: (d / "meta.json").write_text(json.dumps({"format": "other"})), "is not"),
])
def test_bad_shards_are_clear_errors(tmp_path, damage, message):
    d = write_token_shards(tmp_path, {"train": np.arange(100), "val": np.arange(50)}, vocab_size=100)
    damage(d)
    with pytest.raises(UserError, match=message):
        TokenShards(d, "train")


def test_missing_split_and_too_short_split(tmp_path):
    d = write_token_shards(tmp_path, {"train": np.arange(100), "val": np.arange(5)}, vocab_size=100)
    with pytest.raises(UserError, match="no 'test' split"):
        TokenShards(d, "test")
    with pytest.raises(UserError, match="fewer than one window"):
        RandomWindowLoader(TokenShards(d, "val"), 2, 8)
