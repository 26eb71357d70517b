"""Reading damaged inputs: corruption costs the records it touches, counted with a reason, never the file.

Every layer resynchronises at the next unit it can recognise and counts what it skipped in `skipped`:

- `pieces(path)`: the decompressed bytes of a file. gzip members and zstd frames are decoded one at a
  time; a corrupt one (`gzip_corrupt`, `zstd_corrupt`) is dropped and decoding resumes at the next
  member / frame magic; a truncated last one (`gzip_truncated`, `zstd_truncated`) gives what decoded
  before the cut. A member's output is held until its checksum is verified (up to `_HOLD` bytes, then
  streamed), so a damaged member never reaches a record. `None` in the stream marks lost bytes (drop any
  partial record); `b""` marks the end of a member or frame.
- `lines(path)`: complete lines of a (possibly compressed) text file; a line cut by damage is dropped.
- `warc_records(path)`: the bytes of each WARC record. A record is framed by its Content-Length; a
  length that runs past its gzip member or the file, or a block not closed by CRLF CRLF, is
  corruption (`warc_bad_content_length`); garbage between records is `warc_malformed_record`. Reading
  resumes at the next `WARC/1.` header.
- `parquet_batches(path)`: record batches of each Parquet row group; a file that does not open is
  `unreadable_file`, an unreadable row group costs its rows (`parquet_rows_corrupt`, counted per row).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roots.common.io import is_remote, open_raw

_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_SKIPPABLE = re.compile(rb"[\x50-\x5f]\x2a\x4d\x18")  # zstd skippable frames (pzstd, seekable zstd)
_READ = 1 << 20
_HOLD = 16 << 20  # a member's output up to this size is held until its checksum is verified
_MAX_WARC_HEADER = 1 << 20
_MAX_WARC_RECORD = 256 << 20  # a Content-Length above this is taken for corruption, not read into memory
_WARC_START = re.compile(rb"(?:^|\n)(WARC/1\.)")
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d+)[ \t]*\r?\n", re.IGNORECASE)


def codec(path: str | Path) -> str | None:
    name = str(path).lower()
    return "gzip" if name.endswith(".gz") else "zstd" if name.endswith(".zst") else None


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _errors(kind: str) -> tuple[type[Exception], ...]:
    if kind == "gzip":
        return (zlib.error,)
    import zstandard

    return (zstandard.ZstdError,)


def pieces(path: str | Path, skipped: Counter) -> Iterator[bytes | None]:
    """Decompressed bytes of `path` in pieces: `None` where bytes were lost, `b""` at each member end."""
    kind = codec(path)
    with open_raw(path) as f:  # a local file or a URL, seekable (resynchronisation seeks)
        if kind is None:
            while chunk := f.read(_READ):
                yield chunk
            yield b""
            return
        yield from _members(f, kind, skipped)


def _members(f: Any, kind: str, skipped: Counter) -> Iterator[bytes | None]:
    magic = _GZIP_MAGIC if kind == "gzip" else _ZSTD_MAGIC
    errors = _errors(kind)
    raw, offset, eof = b"", 0, False  # compressed bytes not yet used, and the file offset of raw[0]
    damaged = False  # inside a damaged region: further failures there are the same loss, counted once

    def fill(n: int) -> None:
        nonlocal raw, eof
        while len(raw) < n and not eof:
            chunk = f.read(_READ)
            eof = not chunk
            raw += chunk

    def lost(reason: str) -> None:
        nonlocal damaged
        if not damaged:
            skipped[f"{kind}_{reason}"] += 1
        damaged = True

    def resync(start: int) -> None:
        """Move to the next magic at or after file offset `start` (or to the end)."""
        nonlocal raw, offset, eof
        f.seek(start)
        raw, offset, eof = b"", start, False
        while True:
            fill(_READ)
            i = raw.find(magic)
            if i >= 0 or eof:
                cut = i if i >= 0 else len(raw)
                raw, offset = raw[cut:], offset + cut
                return
            keep = len(magic) - 1
            offset += len(raw) - keep
            raw = raw[-keep:]

    while True:
        fill(len(magic))
        if not raw:
            return
        if kind == "zstd" and _ZSTD_SKIPPABLE.match(raw[:4]):
            fill(8)
            size = int.from_bytes(raw[4:8], "little") if len(raw) >= 8 else 0
            start = offset + 8 + size
            f.seek(start)
            raw, offset, eof = b"", start, False
            continue
        if not raw.startswith(magic):
            if not raw.strip(b"\x00"):  # zero padding at the end of a file (some writers align blocks)
                fill(_READ)
                if eof and not raw.strip(b"\x00"):
                    return
            lost("corrupt")
            yield None
            resync(offset + 1)
            continue
        member_start = offset
        obj, held, held_bytes, streamed = _decompressor(kind), [], 0, False
        try:
            while not obj.eof:
                fill(1)
                if not raw:
                    break
                out = obj.decompress(raw)
                offset += len(raw) - len(obj.unused_data)
                raw = obj.unused_data if obj.eof else b""
                if out:
                    held.append(out)
                    held_bytes += len(out)
                    if held_bytes > _HOLD:  # too big to hold: stream it (unverified) and keep memory bounded
                        yield from held
                        held, held_bytes, streamed = [], 0, True
        except errors:
            lost("corrupt")
            yield None
            resync(member_start + 1)
            continue
        if not obj.eof:  # the file ended inside this member: what decoded is good, the rest is lost
            lost("truncated")
            yield from held
            yield None
            return
        damaged = False
        yield from held
        if held or streamed:
            yield b""


def lines(path: str | Path, skipped: Counter) -> Iterator[bytes]:
    """Complete lines (without the newline) of a possibly compressed file; a line cut by lost bytes is
    dropped (the loss is already counted by `pieces`)."""
    tail: list[bytes] = []  # the unfinished line, in pieces (a long line costs linear time)
    for piece in pieces(path, skipped):
        if piece is None:
            tail = []
            continue
        if b"\n" not in piece:
            if piece:
                tail.append(piece)
            continue
        parts = piece.split(b"\n")
        parts[0] = b"".join([*tail, parts[0]])
        tail = [parts.pop()]
        yield from parts
    if any(tail):
        yield b"".join(tail)


def warc_records(path: str | Path, skipped: Counter) -> Iterator[bytes]:
    """The bytes of each well-framed WARC record of `path` (header, block, then a CRLF CRLF)."""
    buf = bytearray()
    pos = 0  # start of the unparsed part of buf
    garbage = False  # inside a run of unparseable bytes: counted once

    def parse(final: bool) -> Iterator[bytes]:
        """Records in buf[pos:]; `final`: no more bytes will join them (end of a member or the file)."""
        nonlocal pos, garbage
        while True:
            while pos < len(buf) and buf[pos] in b"\r\n":
                pos += 1
            if pos >= len(buf):
                return
            if not buf.startswith(b"WARC/1.", pos):
                if len(buf) - pos < 7 and not final:
                    return
                if not garbage:
                    skipped["warc_malformed_record"] += 1
                garbage = True
                if not _resync(pos + 1, final):
                    return
                continue
            head_end = buf.find(b"\r\n\r\n", pos)
            if head_end < 0:
                if len(buf) - pos > _MAX_WARC_HEADER or final:
                    skipped["warc_malformed_record"] += 1
                    if not _resync(pos + 1, final):
                        return
                    continue
                return
            length = _CONTENT_LENGTH.search(buf, pos, head_end + 2)
            end = head_end + 4 + int(length.group(1)) if length else -1
            if length is None or int(length.group(1)) > _MAX_WARC_RECORD:
                skipped["warc_malformed_record" if length is None else "warc_bad_content_length"] += 1
                if not _resync(pos + 1, final):
                    return
                continue
            if len(buf) < end + 4 and not final:  # the block and the CRLF CRLF that closes the record
                return
            if end > len(buf) or (buf[end:end + 4] != b"\r\n\r\n" and buf[end:].strip(b"\r\n")):
                skipped["warc_bad_content_length"] += 1  # the block runs past its member, or into data
                if not _resync(pos + 1, final):
                    return
                continue
            garbage = False
            yield bytes(buf[pos:end]) + b"\r\n\r\n"
            pos = end

    def _resync(start: int, final: bool) -> bool:
        """Move pos to the next `WARC/1.` at a line start at or after `start`; False: none in buf yet."""
        nonlocal pos
        nonlocal garbage
        garbage = True  # what follows up to the next header is part of the damage already counted
        m = _WARC_START.search(buf, start)
        if m is None:
            pos = len(buf) if final else max(pos, len(buf) - 8)
            return False
        pos = m.start(1)
        return True

    for piece in pieces(path, skipped):
        if piece is None:  # lost bytes: a record in progress is lost with them (counted by pieces)
            buf.clear()
            pos = 0
            continue
        if piece:
            buf += piece
            yield from parse(final=False)
        else:
            yield from parse(final=True)
            del buf[:pos]
            pos = 0
            continue
        if pos > _READ:
            del buf[:pos]
            pos = 0
    yield from parse(final=True)


def parquet_batches(path: str | Path, skipped: Counter, batch_size: int = 1024) -> Iterator[Any]:
    """pyarrow RecordBatches of each readable row group of `path`."""
    import pyarrow.parquet as pq

    try:
        # a URL streams through fsspec (ranged reads of the footer and of each row group)
        source = open_raw(path) if is_remote(path) else path
        pf = pq.ParquetFile(source, page_checksum_verification=True)  # checked where the writer stored them
    except Exception:  # not Parquet, or a damaged footer: nothing of the file can be located
        skipped["unreadable_file"] += 1
        return
    for group in range(pf.num_row_groups):
        try:
            table = pf.read_row_group(group)
        except Exception:
            skipped["parquet_rows_corrupt"] += pf.metadata.row_group(group).num_rows
            continue
        yield from table.to_batches(max_chunksize=batch_size)
