"""File helpers shared by every stage: atomic writes, transparent (de)compression, and remote paths.

Any path may be an fsspec URL (`s3://`, `gs://`, `hf://`, `https://`, `file://`; see docs/remote.md): reads
stream through fsspec with retries and backoff on transient errors, writes are staged in a local file and
uploaded once complete, so nothing is visible under its final name before it is whole.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from roots.common.remote import (
    RemotePath,
    RemoteReadError,
    RetryPolicy,
    exists,
    file_size,
    is_remote,
    is_url,
    join,
    list_files,
    local_path,
    open_remote,
    redact,
    remove,
    upload,
    upload_tree,
)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to `path`; rename it over `path` only if the block succeeds.

    Readers never see a half-written file, and a crash leaves at most a `.tmp` file behind
    (which the next run overwrites), never a truncated artifact.
    """
    if is_remote(path):  # staged in a local file, uploaded (one atomic object put) when complete
        with _atomic_write_remote(str(path), mode, encoding) as f:
            yield f
        return
    path = Path(local_path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes 0600; give what open(path, "w") would: the old file's mode, else 0666 less the umask
    with contextlib.suppress(OSError):
        os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode) if path.exists() else 0o666 & ~current_umask())
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _atomic_write_remote(url: str, mode: str, encoding: str | None) -> Iterator[IO]:
    with tempfile.TemporaryDirectory(prefix="roots-upload-") as staging:
        local = Path(staging) / "part"
        with open(local, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
        upload(local, url)


def current_umask() -> int:
    """The process umask, read without setting it where the OS allows (os.umask sets while it reads)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike) -> None:
    """Give `path` (a folder: with all in it) the modes open(..., "w") and os.mkdir give under the umask;
    for what a library or tempfile made with its own 0600/0700 (safetensors' save_file, mkdtemp)."""
    if is_remote(path):
        return
    path, mask = Path(local_path(path)), current_umask()
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not p.is_symlink():
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write `obj` as indented JSON."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    with open_text(path, errors="strict") as f:
        return json.load(f)


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open a file (local path or URL) for reading bytes, decompressing .gz and .zst transparently.

    URLs stream with retries (`open_raw`); a read that keeps failing raises RemoteReadError.
    """
    path = str(path)
    if path.endswith(".gz"):
        if not is_remote(path):
            return gzip.open(local_path(path), "rb")
        raw = open_raw(path)
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
        stream.myfileobj = raw  # GzipFile closes `myfileobj` on close (as gzip.open does for its own file)
        return stream
    if path.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open_raw(path), read_across_frames=True, closefd=True)
    return open_raw(path)


def open_raw(path: str | os.PathLike) -> IO[bytes]:
    """Open a local file or URL for reading its bytes as stored (no decompression); seekable."""
    if is_remote(path):
        return open_remote(str(path))
    return open(local_path(path), "rb")


def open_text(path: str | os.PathLike, errors: str = "replace") -> IO[str]:
    """Open a (possibly compressed) text file as UTF-8; undecodable bytes become U+FFFD by default."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors=errors)


__all__ = [
    "RemotePath", "RemoteReadError", "RetryPolicy", "atomic_write", "exists", "file_size", "is_remote",
    "is_url", "join", "list_files", "local_path", "open_binary", "open_raw", "open_text", "read_json", "redact",
    "remove", "upload", "upload_tree", "write_json",
]  # fmt: skip
