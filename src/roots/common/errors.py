"""Errors that speak to the user, and `explain`: an exception as one line (what, where, what to do)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

USAGE, RUNTIME = 2, 1  # exit codes: the user asked for something impossible / the run failed


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type."""


class UserError(Exception):
    """Bad input or configuration: the CLI prints it as one clear line (what, where, what to do)."""


class CorruptFileError(Exception):
    """A file that exists but cannot be read as what it should be (truncated, overwritten, wrong format)."""

    def __init__(self, path: str | os.PathLike, reason: str, hint: str = "") -> None:
        self.path, self.reason, self.hint = str(path), reason, hint
        super().__init__(f"{path} is truncated or corrupt ({reason})" + (f"; {hint}" if hint else ""))


def missing_extra(package: str, extra: str) -> UserError:
    """The error for an optional dependency that is not installed."""
    return UserError(f"this needs the optional package {package!r}: pip install 'roots[{extra}]'")


# what (de)serializers raise on a damaged file; the message names the library's complaint
_DECODE_ERRORS: tuple[type[BaseException], ...] = (EOFError, ValueError)


@contextlib.contextmanager
def reading(path: str | os.PathLike, hint: str = "") -> Iterator[None]:
    """Turn a deserializer's failure on `path` (safetensors, torch.load, JSON, ...) into a CorruptFileError
    that names the file; a missing file or an OS error passes through unchanged."""
    try:
        yield
    except (OSError, UserError):
        raise
    except Exception as e:  # only the decoding failures (below) become "corrupt"
        if not _is_decode_error(e):
            raise
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise CorruptFileError(path, reason, hint) from e


def _is_decode_error(e: BaseException) -> bool:
    name = type(e).__name__
    if name in ("SafetensorError", "UnpicklingError", "BadZipFile", "JSONDecodeError"):
        return True
    if isinstance(e, RuntimeError):  # torch.load of a truncated zip archive
        return "PytorchStreamReader" in str(e) or "zip archive" in str(e)
    return isinstance(e, _DECODE_ERRORS)


def _file_component(path: str) -> str:
    """The first part of `path` that exists and is not a folder (the one in the way)."""
    for parent in reversed(Path(path).parents):
        if parent.exists() and not parent.is_dir():
            return str(parent)
    return path


def _os_error(e: OSError, where: str) -> tuple[int, str]:
    f = e.filename if e.filename is not None else where
    at = f" ({f})" if f else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return RUNTIME, (f"no space left on the device{at}; free some space there or write to another disk, "
                         f"then rerun the same command")
    if isinstance(e, NotADirectoryError) or e.errno == errno.ENOTDIR:
        return USAGE, f"{_file_component(str(f))} is a file, not a folder; give a folder path here (or move the file)"
    if isinstance(e, FileExistsError):
        return USAGE, f"{f} already exists and is not a folder; choose another path for the output"
    if isinstance(e, IsADirectoryError):
        return USAGE, f"{f} is a folder; a file was expected here"
    if isinstance(e, FileNotFoundError):
        return USAGE, f"{f}: no such file or folder; check the path"
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        why = "read-only file system" if e.errno == errno.EROFS else "permission denied"
        return RUNTIME, (f"{f}: {why}; make it writable for your user (chmod/chown) or choose another location")
    return RUNTIME, f"{e.strerror or type(e).__name__}{at}"


def explain(exc: BaseException, where: str = "") -> tuple[int, str] | None:
    """(exit code, one line) for a user mistake, an OS error or a damaged artifact; None for anything
    else (a bug, whose traceback is worth showing). `where` is the command's output, named when the
    error itself carries no path (a failed write of an open file)."""
    if isinstance(exc, (UserError, ConfigError)):
        return USAGE, str(exc)
    if isinstance(exc, CorruptFileError):
        return RUNTIME, str(exc)
    if isinstance(exc, OSError):
        return _os_error(exc, where)
    message = str(exc)
    code = re.search(r"Os \{ code: (\d+)", message)  # safetensors wraps the OS error in its own
    if code:
        return _os_error(OSError(int(code.group(1)), os.strerror(int(code.group(1)))), where)
    if isinstance(exc, RuntimeError) and "PytorchStreamWriter failed writing" in message:
        return RUNTIME, f"could not write under {where or 'the output'} (is the disk full?); free space and rerun"
    if _is_decode_error(exc) and type(exc).__name__ == "SafetensorError":
        return RUNTIME, f"a .safetensors file is truncated or corrupt ({message[:160]}); re-copy or re-create it"
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        return explain(exc.__cause__, where)
    return None
