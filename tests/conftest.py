"""Shared fixtures. Tests are offline and CPU-only; real data comes from ../shared/data when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ROOTS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test data in ../shared/data; tests that use it skip where it is absent."""
    if not (SHARED_DATA / "MANIFEST.md").exists():
        pytest.skip(f"real test data not found at {SHARED_DATA} (a CI checkout has ../shared/data)")
    return SHARED_DATA


def synthetic_tokens(n: int, vocab: int = 64, seed: int = 0) -> np.ndarray:
    """A learnable stream: each token mostly follows from the previous one, with some noise."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    out[0] = 0
    noise = rng.integers(0, vocab, n)
    coin = rng.random(n) < 0.2
    for i in range(1, n):
        out[i] = noise[i] if coin[i] else (3 * out[i - 1] + 1) % vocab
    return out


@pytest.fixture
def shards(tmp_path):
    """Train/val token shards of a learnable synthetic stream (vocabulary 64)."""
    from roots.train.loader import write_token_shards

    return write_token_shards(tmp_path / "shards", {"train": synthetic_tokens(20_000),
                                                    "val": synthetic_tokens(4_000, seed=1)}, vocab_size=64)


def _tiny_config(data, out_dir, **overrides):
    from roots.model.config import ModelConfig
    from roots.train.config import OptimConfig, ScheduleConfig, TrainConfig

    model = ModelConfig.from_preset("debug", vocab_size=0, block_size=32, dropout=0.1)
    fields = dict(data=str(data), out_dir=str(out_dir), model=model, batch_size=4, grad_accum=2, max_steps=12,
                  eval_every=4, eval_batches=2, log_every=1, threads=1, tensorboard=False,
                  optim=OptimConfig(lr=3e-3), schedule=ScheduleConfig(warmup_steps=2))
    return TrainConfig(**{**fields, **overrides})


@pytest.fixture
def tiny_config():
    """A factory of small, fast TrainConfigs (debug model, dropout on, grad accumulation)."""
    return _tiny_config


# ------------------------------------------------------------------ remote storage (docs/remote.md)


@pytest.fixture
def http_root(tmp_path):
    """A folder served over HTTP (Range, keep-alive): yields (folder, FileServer); see roots.common.fileserver."""
    from roots.common.fileserver import FileServer

    root = tmp_path / "served"
    root.mkdir()
    with FileServer(root) as server:
        yield root, server


@pytest.fixture(scope="session")
def s3_server():
    """An S3 API on 127.0.0.1 (moto's server mode, real HTTP), with dummy credentials in the environment
    for every process the test starts; yields its endpoint URL."""
    pytest.importorskip("s3fs", reason="s3:// needs s3fs (pip install 'roots[curate]')")
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.skip("the S3 test server needs moto[server] (pip install 'roots[test]')")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield endpoint
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, request):
    """A fresh, empty bucket on the test S3 server: yields `s3://<name>`."""
    import uuid

    import fsspec

    name = f"roots-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(name)
    yield f"s3://{name}"
