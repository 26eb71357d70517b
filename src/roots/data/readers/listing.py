"""Path listings as inputs: Common Crawl's `warc.paths.gz` / `wet.paths.gz` files and the `cc:SNAPSHOT` shorthand.

A listing holds one path per line; relative entries (`crawl-data/CC-MAIN-2024-10/segments/.../x.warc.gz`)
are resolved against `prefix` (default https://data.commoncrawl.org/; `s3://commoncrawl/` reads the same
files from the bucket, a local folder a mirror). `slice` ("START:STOP", Python slice semantics) keeps a
part of each listing, so that a run, or each of several machines, takes its share of a snapshot.
`cc:CC-MAIN-2024-10` is `<prefix>crawl-data/CC-MAIN-2024-10/<kind>.paths.gz`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from roots.common.errors import UserError
from roots.common.io import is_remote, is_url, join, local_path, open_text
from roots.common.remote import RemotePath, RemoteReadError, redact

PathsKind = Literal["warc", "wet", "wat"]
COMMON_CRAWL = "https://data.commoncrawl.org/"
_LISTING = re.compile(r"(?:^|[/.])paths(?:\.gz)?$")
_SNAPSHOT = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")


@dataclass
class PathsListing:
    """How `*.paths.gz` listings and `cc:SNAPSHOT` inputs expand to files."""

    prefix: str = field(default=COMMON_CRAWL, metadata={
        "help": "base URL (or folder) of relative entries in *.paths.gz listings"})
    slice: str = field(default="", metadata={
        "help": "START:STOP: keep this part of each paths listing (e.g. 0:100; empty: all)"})
    kind: PathsKind = field(default="warc", metadata={"help": "which listing cc:SNAPSHOT names: warc, wet or wat"})

    def bounds(self) -> slice:
        if not self.slice.strip():
            return slice(None)
        start, sep, stop = self.slice.partition(":")
        try:
            if not sep:
                raise ValueError
            return slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)
        except ValueError:
            raise UserError(f"--paths-slice {self.slice!r}: expected START:STOP, e.g. 0:100 or 500:") from None


def is_listing(raw: str) -> bool:
    """Whether an input names a paths listing (`warc.paths.gz`, `x.paths`) or a `cc:` snapshot."""
    return raw.startswith("cc:") or bool(_LISTING.search(raw.split("?", 1)[0]))


def snapshot_listing(raw: str, listing: PathsListing) -> str:
    """The listing URL of `cc:CC-MAIN-YYYY-WW` under `listing.prefix`."""
    name = raw[3:].strip().strip("/")
    if not _SNAPSHOT.match(name):
        raise UserError(f"{raw}: expected cc:CC-MAIN-YYYY-WW (a Common Crawl snapshot, e.g. cc:CC-MAIN-2024-10)")
    return join(listing.prefix, "crawl-data", name, f"{listing.kind}.paths.gz")


def expand_listing(raw: str, listing: PathsListing) -> list[Path | RemotePath]:
    """The files a listing (or `cc:` snapshot) names, in listing order, sliced by `listing.slice`."""
    source = snapshot_listing(raw, listing) if raw.startswith("cc:") else raw
    try:
        with open_text(source, errors="strict") as f:
            entries = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    except FileNotFoundError:
        raise UserError(f"paths listing not found: {redact(source)}") from None
    except (RemoteReadError, OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(f"cannot read the paths listing {redact(source)}: {e}") from None
    files: list[Path | RemotePath] = []
    for entry in entries[listing.bounds()]:
        target = entry if is_url(entry) or entry.startswith("/") else join(listing.prefix, entry)
        files.append(RemotePath(target) if is_remote(target) else Path(local_path(target)).absolute())
    return files
