import gzip
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from roots.common.errors import UserError
from roots.data.readers import ReaderOptions, expand_inputs, reader_for
from roots.data.readers.warc import decode_html


def write_warc(path: Path, responses: list[tuple[str, str, bytes]], gzip: bool = True) -> Path:
    """Write one response record per (url, content type, payload)."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gzip)
        for url, content_type, payload in responses:
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http)
            writer.write_record(record)
    return path


def html_page(i: int) -> bytes:
    return (f"<html><head><title>Page {i}</title></head><body><article><p>This is the body of page {i}. "
            "It talks about the weather, the garden and the long walks by the river in the evening.</p>"
            "</article></body></html>").encode()


def read(path, options=None, limit=0):
    skipped = Counter()
    docs = list(reader_for(path, options).read(path, skipped, limit=limit))
    return docs, skipped


def test_warc_real_crawl_unwraps_warc11_urls(shared_data):
    docs, skipped = read(shared_data / "web/warc/dolma_sample-0000.warc.gz")
    assert len(docs) == 22 and not skipped
    doc = docs[0]
    assert doc.id.startswith("<urn:uuid:")
    assert doc.metadata["url"].startswith("https://") and not doc.metadata["url"].startswith("<")
    assert doc.metadata["content_type"] == "text/html" and doc.metadata["date"].startswith("2024-04")
    assert doc.metadata["source"] == "dolma_sample-0000.warc.gz"
    assert "<html" in doc.text.lower()


def test_warc_decodes_chunked_and_gzip_payloads(shared_data):
    chunked, _ = read(shared_data / "web/warc/warcio_example-iana.org-chunked.warc")
    gzipped, skipped = read(shared_data / "web/warc/warcio_example.warc.gz")
    assert chunked[0].text.startswith("<!doctype html>")
    assert gzipped[0].text.startswith("<!doctype html>") and skipped["warc_revisit"] == 1


def test_wet_conversion_records_are_plain_text(shared_data):
    docs, _ = read(shared_data / "web/warc/commoncrawl_whirlwind.warc.wet.gz")
    assert len(docs) == 1 and docs[0].metadata["content_type"] == "text/plain"
    assert "Escopete" in docs[0].text


def test_warc_truncated_gzip_keeps_records_before_the_cut(tmp_path, shared_data):
    data = (shared_data / "web/warc/dolma_sample-0000.warc.gz").read_bytes()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[: len(data) // 2])
    docs, skipped = read(path)
    assert 5 < len(docs) < 22
    assert skipped == {"gzip_truncated": 1}


def test_warc_malformed_record_in_the_middle_is_skipped(tmp_path, shared_data):
    raw = gzip.decompress((shared_data / "web/warc/dolma_sample-0000.warc.gz").read_bytes())
    full, _ = read(shared_data / "web/warc/dolma_sample-0000.warc.gz")
    i = raw.find(b"WARC/1.", len(raw) // 2)
    path = tmp_path / "bad.warc"
    path.write_bytes(raw[:i] + b"GARBAGE/9.9\r\nthis is not a header\r\n\r\n" + raw[i + 8:])
    docs, skipped = read(path)
    assert skipped["warc_malformed_record"] >= 1
    ids = [d.id for d in docs]
    assert ids[-1] == full[-1].id, "records after the damage must still be read"
    assert len(ids) == len(set(ids)) and len(docs) >= len(full) - 1


def test_warc_non_html_undecodable_and_empty_payloads_are_counted(tmp_path):
    path = write_warc(tmp_path / "mixed.warc.gz", [
        ("http://a.example/", "text/html; charset=utf-8", html_page(1)),
        ("http://a.example/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        ("http://a.example/bad", "text/html; charset=utf-8", b"<html>" + bytes(range(128, 256)) * 50),
        ("http://a.example/empty", "text/html", b"   \n"),
        ("http://a.example/2", "text/html", html_page(2)),
    ])
    docs, skipped = read(path)
    assert [d.metadata["url"] for d in docs] == ["http://a.example/", "http://a.example/2"]
    assert skipped == {"warc_non_html": 1, "undecodable_bytes": 1, "empty_document": 1}


def test_decode_html_charset_precedence():
    russian = "<html><head><meta charset='windows-1251'></head><body>Привет, мир</body></html>"
    assert "Привет" in decode_html(russian.encode("cp1251"), None)  # <meta> charset
    assert "Привет" in decode_html(russian.encode("koi8-r"), "koi8-r")  # the HTTP header wins
    assert decode_html("café".encode("cp1252"), None) == "café"  # nothing declared: cp1252 fallback
    assert decode_html(b"ok \xff", "utf-8" ) is None  # declared, undecodable and heavily damaged


def test_jsonl_fields_html_and_bad_lines(tmp_path):
    path = tmp_path / "pages.jsonl"
    lines = [json.dumps({"page": "<p>hi</p>", "key": "a", "link": "http://x/"}), "{not json",
             json.dumps({"other": 1}), json.dumps({"page": "   "})]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe{}\n")
    options = ReaderOptions(html_field="page", id_field="key", url_field="link")
    docs, skipped = read(path, options)
    assert [(d.id, d.metadata["url"], d.metadata["content_type"]) for d in docs] == [("a", "http://x/", "text/html")]
    assert skipped == {"bad_json_line": 1, "missing_field_page": 1, "empty_document": 1, "undecodable_bytes": 1}


def test_jsonl_truncated_gzip(tmp_path):
    body = "".join(json.dumps({"text": f"document number {i} " * 20}) + "\n" for i in range(2000))
    data = gzip.compress(body.encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    docs, skipped = read(path)
    assert 0 < len(docs) < 2000 and skipped["gzip_truncated"] == 1
    assert docs[0].id == "cut.jsonl.gz/0"  # stable ids without an id field: <file>/<line>


def test_jsonl_html_field_on_real_pages(shared_data):
    path = shared_data / "web/html_extraction/scrapinghub_article_extraction_benchmark.jsonl.gz"
    docs, skipped = read(path, ReaderOptions(html_field="html"), limit=5)
    assert len(docs) == 5 and not skipped
    assert all(d.metadata["content_type"] == "text/html" and d.metadata["url"].startswith("http") for d in docs)


def test_twenty_megabyte_document_is_skipped(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"id": "big", "text": "word " * 4_000_000}) + "\n"
                    + json.dumps({"id": "small", "text": "a small document"}) + "\n")
    docs, skipped = read(path)
    assert [d.id for d in docs] == ["small"] and skipped == {"document_too_large": 1}


def test_parquet_and_text_readers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["first text", "second text"]}), tmp_path / "t.parquet")
    docs, _ = read(tmp_path / "t.parquet")
    assert [d.id for d in docs] == ["p1", "p2"]
    (tmp_path / "notes.txt").write_text("a plain text file\nwith two lines\n")
    docs, _ = read(tmp_path / "notes.txt")
    assert docs[0].id == "notes.txt" and docs[0].text.startswith("a plain text file")


def test_expand_inputs(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["a.jsonl", "sub/b.warc.gz", "sub/c.jsonl.zst", "sub/readme.pdf"]:
        (tmp_path / name).write_bytes(b"")
    found = expand_inputs([tmp_path])
    assert [p.name for p in found] == ["a.jsonl", "b.warc.gz", "c.jsonl.zst"]
    assert [p.name for p in expand_inputs([str(tmp_path / "sub" / "*.warc.gz"), tmp_path / "a.jsonl"])] == [
        "a.jsonl", "b.warc.gz"]
    with pytest.raises(UserError, match="input not found"):
        expand_inputs([tmp_path / "missing.warc.gz"])
    with pytest.raises(UserError, match="unknown input format"):
        expand_inputs([tmp_path / "sub" / "readme.pdf"])


def test_warc_corrupt_gzip_bytes_are_a_counted_skip(tmp_path, shared_data):
    data = bytearray((shared_data / "web/warc/dolma_sample-0000.warc.gz").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    docs, skipped = read(path)
    assert 0 < len(docs) < 22
    assert set(skipped) <= {"gzip_corrupt", "warc_malformed_record", "gzip_truncated"} and skipped


def test_chinese_charsets_decode_as_browsers_do(tmp_path):
    """Pages labelled gb2312 are GBK (browsers decode them as GB18030), big5 pages use Big5-HKSCS."""
    gbk = "<html><head><meta charset=gb2312></head><body><p>朱镕基和王喆在北京讨论经济改革的问题。</p></body></html>"
    big5 = "<html><head><meta charset=big5></head><body><p>佢哋講咗好多嘢，啱啱先返到屋企。</p></body></html>"
    assert decode_html(gbk.encode("gbk"), None) == gbk  # 镕, 喆 are GBK, not GB2312
    assert decode_html(gbk.encode("gbk"), "GB2312") == gbk  # the HTTP header label too
    assert decode_html(gbk.encode("gb18030"), "gbk") == gbk
    assert decode_html(big5.encode("big5hkscs"), None) == big5  # 咗, 啱 are HKSCS additions
    path = write_warc(tmp_path / "zh.warc.gz", [("http://a.cn/", "text/html; charset=gb2312", gbk.encode("gbk")),
                                               ("http://b.hk/", "text/html", big5.encode("big5hkscs"))])
    docs, skipped = read(path)
    assert [d.text for d in docs] == [gbk, big5] and not skipped


def test_shared_crawl_chinese_pages_decode_cleanly(shared_data):
    """The Common Crawl excerpt's gbk/gb2312 pages decode without a single replacement character."""
    docs, _ = read(shared_data / "web/warc/commoncrawl_CC-MAIN-2020-34_excerpt.warc.gz")
    chinese = [d for d in docs if re.search(rb"charset\s*=\s*[\"']?(gbk|gb2312)", d.text.encode()[:4096], re.I)]
    assert len(chinese) >= 5
    assert all("\ufffd" not in d.text for d in docs)
    assert all(len(re.findall(r"[\u4e00-\u9fff]", d.text)) > 50 for d in chinese)


def test_jsonl_zst_is_read_line_by_line_across_frames(tmp_path):
    import zstandard

    lines = [json.dumps({"id": str(i), "text": f"文档 {i} document"}) + "\n" for i in range(30)]
    frames = [zstandard.ZstdCompressor().compress("".join(lines[k:k + 10]).encode()) for k in (0, 10, 20)]
    for suffix in (".jsonl.zst", ".json.zst"):
        path = tmp_path / f"three_frames{suffix}"
        path.write_bytes(b"".join(frames))
        docs, skipped = read(path)
        assert [d.id for d in docs] == [str(i) for i in range(30)] and not skipped
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(b"".join(frames)[: len(frames[0]) + len(frames[1]) // 2])
    docs, skipped = read(cut)
    assert [d.id for d in docs] == [str(i) for i in range(len(docs))] and 10 <= len(docs) < 20
    assert skipped == {"zstd_truncated": 1}


def test_truncated_compressed_text_is_a_counted_skip(tmp_path):
    import zstandard

    text = "A plain text document that is long enough. " * 2000
    for suffix, data in ((".txt.zst", zstandard.ZstdCompressor().compress(text.encode())),
                         (".txt.gz", gzip.compress(text.encode()))):
        path = tmp_path / f"doc{suffix}"
        path.write_bytes(data)
        assert [d.text for d in read(path)[0]] == [text]
        path.write_bytes(data[: len(data) // 2])
        docs, skipped = read(path)
        assert docs == [] and skipped == {f"{'zstd' if suffix.endswith('zst') else 'gzip'}_truncated": 1}


@pytest.mark.parametrize("name", ["junk.txt.gz", "junk.jsonl.zst", "junk.parquet", "junk.warc.gz", "junk.warc"])
def test_random_bytes_in_any_format_are_a_counted_skip(tmp_path, name):
    import random

    path = tmp_path / name
    path.write_bytes(random.Random(0).randbytes(5000))
    docs, skipped = read(path)
    assert docs == [] and sum(skipped.values()) >= 1
    assert set(skipped) <= {"gzip_corrupt", "zstd_corrupt", "unreadable_file", "warc_malformed_record"}
