from __future__ import annotations

import gzip

import pytest
import zstandard

from roots.common.io import atomic_write, open_text, read_json, write_json


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("new, half written")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_json_roundtrip(tmp_path):
    write_json(tmp_path / "x.json", {"a": [1, 2], "é": "ü"})
    assert read_json(tmp_path / "x.json") == {"a": [1, 2], "é": "ü"}


def test_open_text_compressed_and_invalid_utf8(tmp_path):
    (tmp_path / "a.gz").write_bytes(gzip.compress("héllo\n".encode()))
    (tmp_path / "a.zst").write_bytes(zstandard.ZstdCompressor().compress("wörld\n".encode()))
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\xfe end\n")
    assert open_text(tmp_path / "a.gz").read() == "héllo\n"
    assert open_text(tmp_path / "a.zst").read() == "wörld\n"
    assert open_text(tmp_path / "bad.txt").read() == "ok \ufffd\ufffd end\n"
