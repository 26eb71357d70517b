"""Real extracted web text for the filter benchmarks: ../shared/data/web pages through trafilatura.

HTML comes from the WARC files' HTML responses (read with fastwarc) and the html_extraction pages;
text is trafilatura's main text with favor_precision (RefinedWeb's extraction). Extraction is the slow
part, so the texts are cached as JSON Lines in a temp dir keyed by the data folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"


def _html_pages(data: Path) -> Iterator[tuple[str, str]]:
    """(source id, html) of every HTML page under data/web."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    for path in sorted((data / "web" / "warc").glob("*.warc*")):
        if ".wat" in path.name or ".wet" in path.name:
            continue
        with open(path, "rb") as f:
            for i, rec in enumerate(ArchiveIterator(f, record_types=WarcRecordType.response)):
                content_type = (rec.http_headers.get("Content-Type") or "") if rec.http_headers else ""
                if "html" in content_type.lower():
                    body = rec.reader.read()  # pages are GBK, Shift-JIS, ...: detect, do not assume UTF-8
                    yield f"{path.name}#{i}", bytes_to_str(body, detect_encoding(body))
    for path in sorted((data / "web" / "html_extraction").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                yield f"{path.name}#{i}", json.loads(line)["html"]


def extracted_texts(data: Path, limit: int | None = None) -> list[str]:
    """Non-empty trafilatura (favor_precision) texts of all pages, cached after the first full call.

    With `limit` and no cache yet, only the first `limit` texts are extracted (and not cached)."""
    data = Path(data).resolve()
    if not (data / "web").is_dir():
        sys.exit(f"no web data under {data}: pass --data PATH/TO/shared/data")
    key = hashlib.sha1(str(data).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"roots_bench_extracted_v2_{key}.jsonl"
    if cache.exists():
        return [json.loads(line)["text"] for line in cache.open(encoding="utf-8")][:limit]
    import trafilatura

    texts = []
    for source, html in _html_pages(data):
        text = trafilatura.extract(html, favor_precision=True, include_comments=False)
        if text and text.strip():
            texts.append({"source": source, "text": text})
            if limit is not None and len(texts) >= limit:
                return [t["text"] for t in texts]
    tmp = cache.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    tmp.replace(cache)
    print(f"extracted {len(texts)} texts (cached in {cache})", file=sys.stderr)
    return [t["text"] for t in texts]
