from __future__ import annotations

import gzip
import os
import stat
import tempfile
from pathlib import Path

import pytest
import zstandard

from roots.common.io import apply_umask, atomic_write, current_umask, open_text, read_json, write_json


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


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_atomic_writes_respect_the_umask(tmp_path, umask):
    """Artifacts get the mode a plain open(path, "w") gives, not mkstemp's 0600; folders as os.mkdir."""
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    write_json(tmp_path / "a.json", {"a": 1})
    with atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"x")
    expected = 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == expected
    for name in ("a.json", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
    assert current_umask() == umask
    (tmp_path / "plain").mkdir()
    made = Path(tempfile.mkdtemp(dir=tmp_path))
    (made / "f").write_bytes(b"")
    os.chmod(made / "f", 0o600)
    apply_umask(made)
    assert stat.S_IMODE((made / "f").stat().st_mode) == expected
    assert stat.S_IMODE(made.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o777 & ~umask


def test_atomic_rewrite_keeps_the_files_mode(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"a": 1})
    path.chmod(0o640)
    write_json(path, {"a": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and read_json(path) == {"a": 2}
