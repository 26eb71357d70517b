"""Remote paths (roots.common.remote through roots.common.io): HTTP with Range and an S3 API, both real
servers on 127.0.0.1 (see the fixtures in tests/conftest.py)."""

from __future__ import annotations

import gzip
import os

import pytest
import zstandard

from roots.common import io as rio
from roots.common.remote import IO_STATS, RemoteReadError, RetryPolicy, open_remote, redact


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ROOTS_IO_BACKOFF", "0.01")


def test_url_naming():
    assert rio.is_url("s3://b/k") and rio.is_remote("s3://b/k") and rio.is_remote("https://h/x")
    assert rio.is_url("file:///tmp/x") and not rio.is_remote("file:///tmp/x")
    assert not rio.is_url("/tmp/x") and not rio.is_url("C:relative")
    assert rio.local_path("file:///tmp/x") == "/tmp/x"
    assert rio.join("s3://b/out/", "data", "a.jsonl") == "s3://b/out/data/a.jsonl"
    assert rio.RemotePath("https://h/crawl/x.warc.gz?x=1").name == "x.warc.gz"


def test_redact_removes_credentials():
    url = "https://user:secret@host/path/x.gz?X-Amz-Signature=abc&part=3"
    out = redact(f"failed to read {url} (again)")
    assert "secret" not in out and "abc" not in out
    assert "host/path/x.gz" in out and "part=3" in out and out.endswith("(again)")


def test_http_read_streams_ranges(http_root):
    root, server = http_root
    data = os.urandom(3_000_000)
    (root / "blob.bin").write_bytes(data)
    (root / "t.txt.gz").write_bytes(gzip.compress("héllo 世界\n".encode()))
    (root / "t.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"a": 1}\n'))
    with open_remote(f"{server.url}/blob.bin", block_size=1 << 20) as f:
        f.seek(2_000_000)
        assert f.read(10) == data[2_000_000:2_000_010]
        f.seek(5)
        assert f.read(100) == data[5:105]
    assert rio.open_text(f"{server.url}/t.txt.gz").read() == "héllo 世界\n"
    assert rio.open_binary(f"{server.url}/t.jsonl.zst").read() == b'{"a": 1}\n'
    assert rio.file_size(f"{server.url}/blob.bin") == len(data)
    assert rio.exists(f"{server.url}/blob.bin") and not rio.exists(f"{server.url}/nope.bin")


def test_http_retries_injected_failures(http_root):
    root, server = http_root
    data = os.urandom(2_000_000)
    (root / "blob.bin").write_bytes(data)
    server.set_fail_every(3)  # every 3rd request: a 503 or a connection dropped half-way
    before = IO_STATS["io_retries"]
    with open_remote(f"{server.url}/blob.bin", block_size=100_000) as f:
        assert b"".join(iter(lambda: f.read(30_000), b"")) == data
    assert server.faults >= 2
    assert IO_STATS["io_retries"] - before >= server.faults - 1  # the HEAD probes are not failed


def test_http_gives_up_with_remote_read_error(http_root):
    root, server = http_root
    (root / "blob.bin").write_bytes(b"x" * 1000)
    server.set_fail_every(1)
    with pytest.raises(RemoteReadError, match="gave up after 2 retries"):
        open_remote(f"{server.url}/blob.bin", policy=RetryPolicy(retries=2, backoff_s=0.01)).read()


def test_missing_http_file_is_not_retried(http_root):
    _, server = http_root
    before = IO_STATS["io_retries"]
    with pytest.raises(FileNotFoundError):
        open_remote(f"{server.url}/absent.bin")
    assert IO_STATS["io_retries"] == before


def test_http_listing_glob(http_root):
    root, server = http_root
    (root / "crawl").mkdir()
    for name in ("a.warc.gz", "b.warc.gz", "c.txt"):
        (root / "crawl" / name).write_bytes(b"x")
    assert rio.list_files(f"{server.url}/crawl/*.warc.gz") == [f"{server.url}/crawl/a.warc.gz",
                                                               f"{server.url}/crawl/b.warc.gz"]


def test_s3_write_read_list_remove(s3_bucket, tmp_path):
    url = f"{s3_bucket}/out/stats.json"
    rio.write_json(url, {"docs": 3, "text": "中文"})
    assert rio.read_json(url) == {"docs": 3, "text": "中文"}
    with pytest.raises(RuntimeError), rio.atomic_write(f"{s3_bucket}/out/half.txt") as f:
        f.write("half")
        raise RuntimeError("killed")
    assert not rio.exists(f"{s3_bucket}/out/half.txt")  # nothing visible under the final name
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a.txt").write_text("a")
    (tmp_path / "tree" / "sub" / "b.txt").write_text("b")
    assert rio.upload_tree(tmp_path / "tree", f"{s3_bucket}/tree") == [f"{s3_bucket}/tree/a.txt",
                                                                      f"{s3_bucket}/tree/sub/b.txt"]
    assert rio.list_files(f"{s3_bucket}/tree") == [f"{s3_bucket}/tree/a.txt", f"{s3_bucket}/tree/sub/b.txt"]
    assert rio.list_files(f"{s3_bucket}/tree/*.txt") == [f"{s3_bucket}/tree/a.txt"]
    assert rio.open_text(f"{s3_bucket}/tree/sub/b.txt").read() == "b"
    rio.remove(f"{s3_bucket}/tree", recursive=True)
    rio.remove(f"{s3_bucket}/tree/never-there.txt")
    assert rio.list_files(f"{s3_bucket}/tree") == []
    with pytest.raises(FileNotFoundError):
        rio.open_binary(f"{s3_bucket}/absent.jsonl")


def test_file_urls_are_local(tmp_path):
    rio.write_json(f"file://{tmp_path}/x.json", [1])
    assert rio.read_json(tmp_path / "x.json") == [1]
    assert rio.exists(f"file://{tmp_path}/x.json")
