"""WARC / WET reader (fastwarc): HTML responses become documents holding the decoded HTML.

WET conversion records are read as plain text. Records are framed by `resilient.warc_records`: a
corrupt gzip member, a lying Content-Length or garbage costs the records it touches (counted), and
reading resumes at the next `WARC/1.` header; a truncated file keeps the records before the cut.
"""

from __future__ import annotations

import codecs
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from roots.data.document import Document
from roots.data.readers.base import Reader
from roots.data.readers.resilient import warc_records

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE)
_MAX_REPLACED = 0.01  # a page with more than 1% undecodable characters is skipped, not kept as mojibake


# Labels browsers decode with a superset (WHATWG Encoding Standard): pages labelled gb2312 are written in
# GBK, big5 in Big5-HKSCS, iso-8859-1 in windows-1252, ...; Python's strict codecs would garble them.
_WHATWG_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x_gbk": "gb18030", "gb_2312_80": "gb18030", "big5": "big5hkscs",
    "iso8859_1": "cp1252", "euc_kr": "cp949", "shift_jis": "cp932", "x_sjis": "cp932", "iso8859_11": "cp874",
    "tis_620": "cp874", "iso8859_9": "cp1254",
}


def _codec(name: str | None) -> str | None:
    """A Python codec name for a declared charset (its WHATWG superset), or None when unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    try:
        codec = _WHATWG_SUPERSETS.get(label.replace("-", "_")) or codecs.lookup(label).name
    except LookupError:
        return None
    return _WHATWG_SUPERSETS.get(codec.replace("-", "_"), codec)


def decode_html(payload: bytes, header_charset: str | None) -> str | None:
    """Decode an HTML payload: HTTP header charset, then <meta charset>, then UTF-8, then cp1252
    (the web's de facto default) when nothing was declared. Returns None when the bytes do not decode."""
    meta = _META_CHARSET.search(payload[:4096])
    declared = [c for c in (_codec(header_charset), _codec(meta.group(1).decode("ascii", "ignore"))
                            if meta else None) if c]
    for codec in dict.fromkeys([*declared, "utf-8"]):
        try:
            return payload.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    if not declared:
        try:
            return payload.decode("cp1252")
        except UnicodeDecodeError:
            pass
    # declared charsets are often wrong by a few bytes: keep the page if the damage is small
    text = payload.decode(declared[0] if declared else "utf-8", errors="replace")
    if text.count("\ufffd") > _MAX_REPLACED * max(len(text), 1):
        return None
    return text


class WarcReader(Reader):
    """WARC responses (HTML only) and WET conversion records, framed by `resilient.warc_records`."""

    def _read(self, path: Path, skipped: Counter) -> Iterator[Document]:
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        for n, raw in enumerate(warc_records(path, skipped)):
            # fastwarc parses one framed record: HTTP headers, chunked transfer, gzip/deflate encodings
            try:
                record = next(iter(ArchiveIterator(io.BytesIO(raw), parse_http=True, auto_decode="all")), None)
            except (OSError, ValueError):
                record = None
            if record is None:
                skipped["warc_malformed_record"] += 1
                continue
            try:
                if record.record_type == WarcRecordType.response:
                    doc = self._response(record, path, n, skipped)
                elif record.record_type == WarcRecordType.conversion:
                    doc = self._conversion(record, path, n, skipped)
                else:
                    if record.record_type == WarcRecordType.revisit:
                        skipped["warc_revisit"] += 1
                    continue
            except (OSError, ValueError, zlib.error):  # a payload that does not decode
                skipped["warc_malformed_record"] += 1
                continue
            if doc is not None:
                yield doc

    def _meta(self, record, path: Path) -> dict:
        url = record.headers.get("WARC-Target-URI", "") or ""
        if url.startswith("<") and url.endswith(">"):  # WARC 1.1 drafts wrap the URI (dolma's crawls)
            url = url[1:-1]
        return {"url": url, "date": record.headers.get("WARC-Date"), "source": path.name}

    def _doc_id(self, record, path: Path, n: int) -> str:
        """The WARC-Record-ID, else the record's number in the file."""
        return record.record_id or f"{path.name}/{n}"

    def _response(self, record, path: Path, n: int, skipped: Counter) -> Document | None:
        content_type = (record.http_content_type or "").lower()
        if not content_type.startswith(_HTML_TYPES):
            skipped["warc_non_html"] += 1
            return None
        text = decode_html(record.reader.read(), record.http_charset)
        if text is None:
            skipped["undecodable_bytes"] += 1
            return None
        meta = self._meta(record, path) | {"content_type": "text/html"}
        return Document(text=text, id=self._doc_id(record, path, n), metadata=meta)

    def _conversion(self, record, path: Path, n: int, skipped: Counter) -> Document | None:
        payload = record.reader.read()
        try:
            text = payload.decode("utf-8")  # WET text is always UTF-8
        except UnicodeDecodeError:
            skipped["undecodable_bytes"] += 1
            return None
        meta = self._meta(record, path) | {"content_type": "text/plain"}
        return Document(text=text, id=self._doc_id(record, path, n), metadata=meta)
