"""Remote paths: fsspec URLs (`s3://`, `gs://`, `hf://`, `https://`, `file://`) for every roots input and output.

Credentials come from each filesystem's usual environment and config (AWS_* variables and ~/.aws for S3,
GOOGLE_APPLICATION_CREDENTIALS for GCS, HF_TOKEN for hf://, `FSSPEC_<PROTOCOL>_<OPTION>` variables for any
fsspec option, e.g. FSSPEC_S3_ENDPOINT_URL); roots never takes keys on the command line and `redact` keeps
them out of logs and run records.

Reads stream (fsspec's block cache over ranged requests, no full download first). Transient failures (a
dropped connection, a 5xx, a timeout) are retried with exponential backoff, re-opening the object at the
position reached; every retry is counted in `IO_STATS` (the pipeline writes it to stats.json). A read that
still fails after `RetryPolicy.retries` attempts raises RemoteReadError, which curate counts as a skipped
file rather than a dead run.

Environment: ROOTS_IO_RETRIES (default 5), ROOTS_IO_BACKOFF (first wait in seconds, default 0.5, doubled
each time), ROOTS_IO_BACKOFF_MAX (default 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import posixpath
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from roots.common.errors import UserError

T = TypeVar("T")

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://")
_LOCAL_PROTOCOLS = ("file", "local")
_SECRET_PARAM = re.compile(r"sig|signature|token|key|secret|password|credential|auth", re.IGNORECASE)

IO_STATS: Counter = Counter()  # this process's retries ("io_retries") and failed reads; the pipeline diffs it


class RemoteReadError(Exception):
    """A remote read that kept failing after every retry (not an OSError, so that format readers do not
    mistake it for a malformed record): curate counts the file as skipped (`remote_read_failed`)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient remote errors are retried."""

    retries: int = field(default_factory=lambda: int(os.environ.get("ROOTS_IO_RETRIES", "5")))
    backoff_s: float = field(default_factory=lambda: float(os.environ.get("ROOTS_IO_BACKOFF", "0.5")))
    max_backoff_s: float = field(default_factory=lambda: float(os.environ.get("ROOTS_IO_BACKOFF_MAX", "30")))

    def wait(self, attempt: int) -> float:
        """Seconds to sleep before retry `attempt` (1-based): exponential, capped, with a little jitter."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)) * (0.75 + 0.5 * random.random())


# ------------------------------------------------------------------------------------------ naming


def protocol(path: str | os.PathLike) -> str:
    """The URL scheme of `path` ("s3", "https", ...), or "" for a plain local path."""
    m = _SCHEME.match(str(path))
    return m.group(1).lower() if m else ""


def is_url(path: str | os.PathLike) -> bool:
    """Whether `path` is a URL (any scheme, file:// included)."""
    return bool(protocol(path))


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` names something fsspec must reach (a URL other than file://)."""
    return protocol(path) not in ("", *_LOCAL_PROTOCOLS)


def local_path(path: str | os.PathLike) -> str:
    """`path` as a local file name (file:// URLs stripped); remote URLs are returned unchanged."""
    path = str(path)
    if protocol(path) in _LOCAL_PROTOCOLS:
        return path.split("://", 1)[1]
    return path


def join(base: str | os.PathLike, *parts: str) -> str:
    """`base/part/...` for URLs and local paths alike."""
    if is_remote(base):
        return posixpath.join(str(base).rstrip("/"), *parts)
    return str(Path(local_path(base), *parts))


def redact(text: str) -> str:
    """`text` (a URL, or a message holding URLs) without credentials: user:password@ and secret-looking
    query parameters (signatures, tokens, keys) are replaced by `***`."""

    def one(url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = urlencode([(k, "***" if _SECRET_PARAM.search(k) else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    return re.sub(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+", lambda m: one(m.group(0)), str(text))


@dataclass(frozen=True, order=True)
class RemotePath:
    """A remote input named by URL, with the little of pathlib's interface readers use (`name`, `str`)."""

    url: str

    @property
    def name(self) -> str:
        return posixpath.basename(urlsplit(self.url).path.rstrip("/"))

    @property
    def suffixes(self) -> list[str]:
        return Path(self.name).suffixes

    def __str__(self) -> str:
        return self.url

    def __fspath__(self) -> str:  # lets `str`-or-PathLike helpers take it; never opened with builtins.open
        return self.url


# -------------------------------------------------------------------------------------- filesystems


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for `url`; a clear error when the protocol's package is missing."""
    try:
        import fsspec
    except ImportError as e:
        raise UserError(f"{redact(url)}: remote paths need fsspec: pip install 'roots[curate]'") from e
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        raise UserError(f"{redact(url)}: cannot open this kind of URL ({e}); install the filesystem's "
                        f"package (s3fs for s3://, gcsfs for gs://, huggingface_hub for hf://, aiohttp for "
                        f"http(s)://)") from e


def _not_found(exc: FileNotFoundError) -> bool:
    """Whether `exc` means the object is really absent. fsspec's HTTP filesystem turns any failure of its
    HEAD/GET probe (a 5xx, a dropped connection) into FileNotFoundError: only a 404/410 underneath is absence."""
    cause = exc.__cause__
    status = getattr(cause, "status", None)
    if isinstance(status, int):
        return status in (404, 410)
    return not (cause is not None and _is_connection_error(cause))


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return True
    try:
        import aiohttp
    except ImportError:
        return False
    return isinstance(exc, aiohttp.ClientError)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: dropped connections, timeouts, 5xx and 429; not absence or refusal."""
    if isinstance(exc, FileNotFoundError):
        return not _not_found(exc)
    if isinstance(exc, (PermissionError, IsADirectoryError, NotADirectoryError, UserError)):
        return False
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status >= 500 or status in (408, 429)
    return isinstance(exc, OSError) or _is_connection_error(exc)


def with_retries(fn: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """`fn()`, retried on transient errors; RemoteReadError once the retries are spent."""
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:
            if not is_transient(e):
                raise
            attempt += 1
            if attempt > policy.retries:
                IO_STATS["io_failed"] += 1
                raise RemoteReadError(f"{redact(what)}: {type(e).__name__}: {redact(str(e))} "
                                      f"(gave up after {policy.retries} retries)") from e
            IO_STATS["io_retries"] += 1
            time.sleep(policy.wait(attempt))


class _RetryingFile(io.RawIOBase):
    """A seekable read-only remote file that survives transient errors: on failure it re-opens the object
    and seeks back to where it was (fsspec files are ranged reads, so nothing before is fetched again)."""

    def __init__(self, url: str, policy: RetryPolicy, block_size: int):
        self.url = url
        self.policy = policy
        self.block_size = block_size
        self._fs, self._path = filesystem(url)
        self._pos = 0
        self._file: Any = None
        with_retries(self._reopen, url, policy)

    def _reopen(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; replaced below
                self._file.close()
            self._file = None
        self._file = self._fs.open(self._path, "rb", block_size=self.block_size)
        if self._pos:
            self._file.seek(self._pos)

    def _attempt(self, fn: Callable[[], T]) -> T:
        failed = [False]

        def run() -> T:
            if failed[0]:
                self._reopen()
            try:
                return fn()
            except Exception:
                failed[0] = True
                raise

        return with_retries(run, self.url, self.policy)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._attempt(lambda: self._file.read(len(buffer)))
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._attempt(lambda: self._file.read(size))
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._attempt(lambda: self._file.seek(offset, whence))
        return self._pos

    def tell(self) -> int:
        return self._pos

    @property
    def size(self) -> int | None:
        return getattr(self._file, "size", None)

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        super().close()


def open_remote(url: str, policy: RetryPolicy | None = None, block_size: int = 8 << 20) -> io.BufferedReader:
    """Stream a remote object for reading, with retries (see the module docstring)."""
    return io.BufferedReader(_RetryingFile(url, policy or RetryPolicy(), block_size), buffer_size=1 << 18)


def exists(path: str | os.PathLike) -> bool:
    if not is_remote(path):
        return os.path.exists(local_path(path))
    fs, p = filesystem(str(path))
    fs.invalidate_cache(p)
    return with_retries(lambda: fs.exists(p), str(path))


def file_size(path: str | os.PathLike) -> int:
    if not is_remote(path):
        return os.path.getsize(local_path(path))
    fs, p = filesystem(str(path))
    return with_retries(lambda: fs.size(p), str(path))


def list_files(pattern: str | os.PathLike) -> list[str]:
    """Files matching a glob (or under a folder, recursively), as full URLs, sorted. Local paths too."""
    pattern = str(pattern)
    if not is_remote(pattern):
        import glob

        base = local_path(pattern)
        if os.path.isdir(base):
            return sorted(str(p) for p in Path(base).rglob("*") if p.is_file())
        return sorted(glob.glob(base, recursive=True))
    fs, p = filesystem(pattern)
    fs.invalidate_cache()  # s3fs/gcsfs cache listings; another process may have written since
    if any(c in p for c in "*?["):
        found = with_retries(lambda: fs.glob(p), pattern)
    elif with_retries(lambda: fs.isdir(p), pattern):
        found = with_retries(lambda: fs.find(p), pattern)
    else:
        found = [p] if with_retries(lambda: fs.exists(p), pattern) else []
    return sorted(fs.unstrip_protocol(f) if not is_url(f) else f for f in found)


def upload(local: str | os.PathLike, url: str, policy: RetryPolicy | None = None) -> None:
    """Copy a complete local file to `url`. One object PUT (multipart for large files) on S3/GCS: the
    object appears whole or not at all."""
    if not is_remote(url):
        import shutil

        target = Path(local_path(url))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, target)
        return
    fs, p = filesystem(url)
    with_retries(lambda: fs.put_file(str(local), p), url, policy)


def upload_tree(local_dir: str | os.PathLike, url: str, policy: RetryPolicy | None = None) -> list[str]:
    """Upload every file under `local_dir` to the same relative names under `url`; returns their URLs."""
    done = []
    for path in sorted(p for p in Path(local_dir).rglob("*") if p.is_file()):
        target = join(url, *path.relative_to(local_dir).parts)
        upload(path, target, policy)
        done.append(target)
    return done


def remove(path: str | os.PathLike, recursive: bool = False) -> None:
    """Delete a file (or a folder with `recursive`); absent is fine."""
    if not is_remote(path):
        import shutil

        p = Path(local_path(path))
        if p.is_dir() and recursive:
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        return
    fs, p = filesystem(str(path))

    def rm() -> None:
        try:
            fs.rm(p, recursive=recursive)
        except FileNotFoundError as e:
            if not _not_found(e):
                raise

    with_retries(rm, str(path))
