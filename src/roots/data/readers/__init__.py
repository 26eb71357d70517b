"""Readers: input files -> Documents. `expand_inputs` resolves files, folders, globs, URLs and path
listings (listing.py); `reader_for` picks the reader from the file name."""

from __future__ import annotations

import glob
import sys
from collections.abc import Sequence
from pathlib import Path

from roots.common.errors import UserError
from roots.common.io import is_remote, list_files, local_path
from roots.common.remote import RemotePath, exists, redact
from roots.data.readers.base import Reader, ReaderOptions
from roots.data.readers.hf_dataset import HFDatasetReader, is_hf_dataset_dir
from roots.data.readers.jsonl import JsonlReader, ParquetReader
from roots.data.readers.listing import PathsListing, expand_listing, is_listing
from roots.data.readers.text import TextReader
from roots.data.readers.warc import WarcReader

__all__ = ["PathsListing", "Reader", "ReaderOptions", "RemotePath", "expand_inputs", "reader_for"]

_COMPRESSED = ("", ".gz", ".zst")
READERS: dict[str, type[Reader]] = {
    **{f".warc{c}": WarcReader for c in ("", ".gz")},
    **{f".wet{c}": WarcReader for c in ("", ".gz")},
    **{f".jsonl{c}": JsonlReader for c in _COMPRESSED},
    **{f".json{c}": JsonlReader for c in (".gz", ".zst")},
    **{f".txt{c}": TextReader for c in _COMPRESSED},
    ".md": TextReader,
    ".parquet": ParquetReader,
}


def _reader_class(path: Path | RemotePath) -> type[Reader] | None:
    if isinstance(path, Path) and is_hf_dataset_dir(path):
        return HFDatasetReader
    name = path.name.lower()
    # longest suffix first so that ".warc.gz" wins over ".gz"
    for suffix in sorted(READERS, key=len, reverse=True):
        if name.endswith(suffix):
            return READERS[suffix]
    return None


def reader_for(path: Path | RemotePath, options: ReaderOptions | None = None) -> Reader:
    cls = _reader_class(path)
    if cls is None:
        raise UserError(f"{path}: unknown input format; supported: {', '.join(sorted(READERS))} "
                        "and Hugging Face datasets saved with save_to_disk")
    return cls(options)


def _expand_remote(raw: str) -> list[RemotePath]:
    """A URL naming a file (checked to exist), or a glob / folder of files of known formats."""
    url = RemotePath(raw)
    if _reader_class(url) is not None and not any(c in url.name for c in "*?["):
        if not exists(raw):
            raise UserError(f"input not found: {redact(raw)}")
        return [url]
    files = [RemotePath(u) for u in list_files(raw)]
    known = [f for f in files if _reader_class(f) is not None]
    if not known:
        raise UserError(f"no readable input files at {redact(raw)} "
                        f"({len(files)} file(s), none of a known format: {', '.join(sorted(READERS))})")
    return known


def expand_inputs(paths: Sequence[str | Path], listing: PathsListing | None = None) -> list[Path | RemotePath]:
    """Files named, found in folders (recursively), matched by globs or listed in `*.paths.gz` listings
    (`cc:SNAPSHOT` too, see listing.py); local paths or fsspec URLs; sorted and deduplicated.

    Raises UserError before any work starts when a path does not exist or nothing readable is found
    (entries of a listing are not checked one by one: one that cannot be read is a counted skip).
    Files of unknown formats inside folders are ignored with a note on stderr.
    """
    found: list[Path | RemotePath] = []
    for raw in paths:
        raw = str(raw)
        if is_listing(raw):
            found.extend(expand_listing(raw, listing or PathsListing()))
            continue
        if is_remote(raw):
            found.extend(_expand_remote(raw))
            continue
        raw = local_path(raw)
        matches = [Path(m) for m in sorted(glob.glob(raw, recursive=True))] if glob.has_magic(raw) else [Path(raw)]
        if not matches or not matches[0].exists():
            raise UserError(f"input not found: {raw}")
        for path in matches:
            if is_hf_dataset_dir(path):  # a `datasets.save_to_disk` folder is one input
                found.append(path)
            elif path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
                known = [p for p in files if _reader_class(p) is not None]
                if len(known) < len(files):
                    ignored = sorted({"".join(p.suffixes[-2:]) or p.name for p in files if p not in known})
                    print(f"note: ignoring {len(files) - len(known)} file(s) of unknown format under {path} "
                          f"({', '.join(ignored)})", file=sys.stderr)
                found.extend(known)
            elif _reader_class(path) is None:
                raise UserError(f"{path}: unknown input format; supported: {', '.join(sorted(READERS))}")
            else:
                found.append(path)
    # symlinks stay distinct inputs
    unique = sorted(dict.fromkeys(p.absolute() if isinstance(p, Path) else p for p in found),
                    key=lambda p: Path(str(p)).parts)
    if not unique:
        raise UserError(f"no readable input files in {', '.join(map(str, paths))}")
    return unique
