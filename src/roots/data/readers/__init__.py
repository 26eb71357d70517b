"""Readers: input files -> Documents. `expand_inputs` resolves files, folders and globs; `reader_for`
picks the reader from the file name."""

from __future__ import annotations

import glob
import sys
from collections.abc import Sequence
from pathlib import Path

from roots.common.errors import UserError
from roots.data.readers.base import Reader, ReaderOptions
from roots.data.readers.hf_dataset import HFDatasetReader, is_hf_dataset_dir
from roots.data.readers.jsonl import JsonlReader, ParquetReader
from roots.data.readers.text import TextReader
from roots.data.readers.warc import WarcReader

__all__ = ["Reader", "ReaderOptions", "expand_inputs", "reader_for"]

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


def _reader_class(path: Path) -> type[Reader] | None:
    if is_hf_dataset_dir(path):
        return HFDatasetReader
    name = path.name.lower()
    # longest suffix first so that ".warc.gz" wins over ".gz"
    for suffix in sorted(READERS, key=len, reverse=True):
        if name.endswith(suffix):
            return READERS[suffix]
    return None


def reader_for(path: Path, options: ReaderOptions | None = None) -> Reader:
    cls = _reader_class(path)
    if cls is None:
        raise UserError(f"{path}: unknown input format; supported: {', '.join(sorted(READERS))} "
                        "and Hugging Face datasets saved with save_to_disk")
    return cls(options)


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, found in folders (recursively) or matched by globs, sorted and deduplicated.

    Raises UserError before any work starts when a path does not exist or nothing readable is found.
    Files of unknown formats inside folders are ignored with a note on stderr.
    """
    found: list[Path] = []
    for raw in paths:
        raw = str(raw)
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
    unique = sorted(dict.fromkeys(p.absolute() for p in found))  # symlinks stay distinct inputs
    if not unique:
        raise UserError(f"no readable input files in {', '.join(map(str, paths))}")
    return unique
