"""Fault injection on real crawl files: damage costs the records it touches, counted, never the rest.

Fixtures are built from ../shared/data/web/warc: truncations at several offsets, a corrupt gzip member
and a lying Content-Length inside real WARCs, JSONL (zstd frames, gzip members) and Parquet made of the
real pages, invalid UTF-8, random bytes in every format, colliding ids, byte copies, and a corpus that
is empty before its dedup steps. Each damaged file has a clean twin of the same name holding exactly the
records the damage left whole: reading the damaged file must give the twin's documents, with each lost
record counted under a reason; a whole run over good and damaged files must complete and give the clean
run's documents for every good file.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import zlib
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from roots.common.io import read_json
from roots.data.corpus import iter_corpus
from roots.data.pipeline import CurateConfig, run_curation
from roots.data.readers import reader_for

CC = "commoncrawl_CC-MAIN-2020-34_excerpt.warc.gz"
D0 = "dolma_sample-0000.warc.gz"
D1 = "dolma_sample-0001.warc.gz"
GOOD = [CC, "commoncrawl_whirlwind.warc.wet.gz", "warcio_example-iana.org-chunked.warc"]
JUNK = ["junk.warc.gz", "junk.warc", "junk.wet.gz", "junk.jsonl", "junk.jsonl.gz", "junk.jsonl.zst",
        "junk.json.zst", "junk.txt", "junk.txt.gz", "junk.txt.zst", "junk.parquet"]
JUNK_REASONS = {"gzip_corrupt", "zstd_corrupt", "unreadable_file", "warc_malformed_record", "undecodable_bytes",
                "bad_json_line"}


def read(path: Path) -> tuple[list[tuple], Counter]:
    skipped: Counter = Counter()
    docs = [(d.id, d.text, d.metadata.get("url"), d.metadata["source"])
            for d in reader_for(path).read(path, skipped)]
    return docs, skipped


def gzip_members(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each gzip member, found with plain zlib."""
    spans, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        spans.append((pos, end))
        pos = end
    return spans


def response_members(data: bytes) -> list[tuple[int, int]]:
    return [(s, e) for s, e in gzip_members(data) if b"WARC-Type: response" in gzip.decompress(data[s:e])[:2000]]


def lie_about_length(record: bytes, length: bytes) -> bytes:
    return re.sub(rb"Content-Length: \d+", b"Content-Length: " + length, record, count=1)


def jsonl_lines(docs: list[tuple]) -> list[bytes]:
    return [json.dumps({"id": str(i), "text": text, "url": url}).encode() + b"\n"
            for i, (_, text, url, _) in enumerate(docs)]


def zstd_complete_lines(data: bytes) -> bytes:
    """The complete lines that zstd can decode from a (possibly cut) series of frames."""
    out = b""
    while data:
        d = zstandard.ZstdDecompressor().decompressobj()
        out += d.decompress(data)
        data = d.unused_data if d.eof else b""
    return out[: out.rfind(b"\n") + 1]


@pytest.fixture(scope="module")
def faults(tmp_path_factory, shared_data) -> tuple[Path, Path, dict[str, Counter]]:
    """bad/NAME (damaged), clean/NAME (what the damage left whole) and the skips each must count."""
    root = tmp_path_factory.mktemp("faults")
    bad, clean = root / "bad", root / "clean"
    bad.mkdir()
    clean.mkdir()
    web = shared_data / "web/warc"
    expected: dict[str, Counter] = {}

    def add(name: str, damaged: bytes, whole: bytes | None, skips: dict[str, int]) -> None:
        (bad / name).write_bytes(damaged)
        if whole is not None:
            (clean / name).write_bytes(whole)
        expected[name] = Counter(skips)

    d1 = (web / D1).read_bytes()
    ends = [e for _, e in gzip_members(d1)]
    for p in (0.3, 0.6, 0.95):  # truncations: the members before the cut stay whole
        cut = int(len(d1) * p)
        assert cut not in ends
        add(f"cut{int(p * 100)}.warc.gz", d1[:cut], d1[:max(e for e in ends if e <= cut)], {"gzip_truncated": 1})

    cc = (web / CC).read_bytes()
    responses = response_members(cc)
    s, e = responses[len(responses) // 2]
    noise = random.Random(7).randbytes(32)
    mid = (s + e) // 2
    add("corrupt_member.warc.gz", cc[:mid] + noise + cc[mid + 32:], cc[:s] + cc[e:], {"gzip_corrupt": 1})
    s, e = responses[3]
    lied = gzip.compress(lie_about_length(gzip.decompress(cc[s:e]), b"99999999999"))
    add("lying_length.warc.gz", cc[:s] + lied + cc[e:], cc[:s] + cc[e:], {"warc_bad_content_length": 1})

    d0 = (web / D0).read_bytes()
    records = [gzip.decompress(d0[s:e]) for s, e in gzip_members(d0)]
    k = [i for i, r in enumerate(records) if b"WARC-Type: response" in r[:2000]][5]
    for name, length in (("lying_length.warc", b"99999999999"), ("short_length.warc", None)):
        if length is None:  # a length short of the real block by 100 bytes
            length = str(int(re.search(rb"Content-Length: (\d+)", records[k]).group(1)) - 100).encode()
        damaged = b"".join([*records[:k], lie_about_length(records[k], length), *records[k + 1:]])
        add(name, damaged, b"".join(records[:k] + records[k + 1:]), {"warc_bad_content_length": 1})

    pages = read(web / D0)[0]
    lines = jsonl_lines(pages)
    frames = [zstandard.ZstdCompressor().compress(b"".join(lines[i:i + 8])) for i in range(0, len(lines), 8)]
    whole = b"".join(frames)
    for p in (0.2, 0.5, 0.8):  # zstd frames cut at several offsets
        cut = int(len(whole) * p)
        kept = zstd_complete_lines(whole[:cut])
        add(f"cut{int(p * 100)}.jsonl.zst", whole[:cut], zstandard.ZstdCompressor().compress(kept),
            {"zstd_truncated": 1})
    members = [gzip.compress(b"".join(lines[i:i + 4])) for i in range(0, len(lines), 4)]
    broken = bytearray(members[2])
    broken[len(broken) // 2: len(broken) // 2 + 16] = random.Random(3).randbytes(16)
    add("members.jsonl.gz", b"".join([*members[:2], bytes(broken), *members[3:]]),
        b"".join(members[:2] + members[3:]), {"gzip_corrupt": 1})
    bad_utf8 = lines[4].replace(b'"text": "', b'"text": "\xff\xfe', 1)
    add("invalid_utf8.jsonl", b"".join([*lines[:4], bad_utf8, *lines[5:]]), b"".join(lines[:4] + lines[5:]),
        {"undecodable_bytes": 1})

    rng = random.Random(0)
    for name in JUNK:
        (bad / name).write_bytes(rng.randbytes(6000))
    return bad, clean, expected


@pytest.mark.parametrize("name", ["cut30.warc.gz", "cut60.warc.gz", "cut95.warc.gz", "corrupt_member.warc.gz",
                                  "lying_length.warc.gz", "lying_length.warc", "short_length.warc",
                                  "cut20.jsonl.zst", "cut50.jsonl.zst", "cut80.jsonl.zst", "members.jsonl.gz",
                                  "invalid_utf8.jsonl"])
def test_damage_costs_only_the_records_it_touches(faults, name):
    bad, clean, expected = faults
    docs, skipped = read(bad / name)
    whole, clean_skipped = read(clean / name)
    assert not clean_skipped.keys() - {"warc_non_html", "warc_revisit"}
    assert docs == whole and len(whole) > 0
    assert skipped - clean_skipped == expected[name]


@pytest.mark.parametrize("name", JUNK)
def test_random_bytes_are_a_counted_skip(faults, name):
    docs, skipped = read(faults[0] / name)
    assert docs == [] and sum(skipped.values()) >= 1 and set(skipped) <= JUNK_REASONS


def test_parquet_with_a_corrupt_row_group_loses_only_its_rows(tmp_path, shared_data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pages = read(shared_data / "web/warc" / D0)[0][:15]
    table = pa.table({"id": [str(i) for i in range(15)], "text": [p[1] for p in pages]})
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=5, compression="zstd", write_page_checksum=True)
    meta = pq.ParquetFile(path).metadata.row_group(1).column(1)  # the text column of the middle row group
    start = meta.dictionary_page_offset or meta.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 40: start + 104] = random.Random(5).randbytes(64)
    path.write_bytes(bytes(data))
    docs, skipped = read(path)
    assert [d[0] for d in docs] == [str(i) for i in (*range(5), *range(10, 15))]
    assert [d[1] for d in docs] == [p[1] for p in pages[:5] + pages[10:]]
    assert skipped == {"parquet_rows_corrupt": 5}


def curate(inputs: list[Path], out: Path, recipe: str, workers: int = 2) -> dict:
    path = out.parent / f"{out.name}.yaml"
    path.write_text(recipe)
    return run_curation(CurateConfig(recipe=str(path), input=[str(p) for p in inputs], output=out, workers=workers))


def by_source(out: Path) -> dict[str, list[tuple]]:
    docs: dict[str, list[tuple]] = {}
    for d in iter_corpus(out):
        docs.setdefault(d.metadata["source"], []).append((d.id, d.text, d.metadata.get("url")))
    return docs


def test_a_run_over_good_and_damaged_files_keeps_every_good_record(faults, shared_data, tmp_path):
    bad, clean, expected = faults
    good = tmp_path / "good"
    good.mkdir()
    for name in GOOD:
        shutil.copy(shared_data / "web/warc" / name, good / name)
    keep_all = "name: keep_all\nsteps:\n  - length: {}\n"
    alone = curate([good], tmp_path / "alone", keep_all)
    mixed = curate([good, bad], tmp_path / "mixed", keep_all)
    got, want = by_source(tmp_path / "mixed"), by_source(tmp_path / "alone")
    assert {k: got[k] for k in GOOD} == want and sum(map(len, want.values())) == alone["output"]["docs"] > 15
    for name in expected:  # each damaged file: exactly the records its damage left whole
        assert [d[:3] for d in read(clean / name)[0]] == got[name]
    counted = Counter(mixed["reader"]["skipped"]) - Counter(alone["reader"]["skipped"])
    per_file = sum((read(bad / name)[1] - read(clean / name)[1] for name in expected), Counter())
    per_file += sum((read(bad / name)[1] for name in JUNK), Counter())
    assert counted == per_file and sum(expected.values(), Counter()) <= counted
    assert mixed["inputs"] == len(GOOD) + len(expected) + len(JUNK)


def test_colliding_ids_and_byte_copies_before_dedup(shared_data, tmp_path):
    """A byte copy of a WARC and of a JSONL file collapses to one copy; files whose ids collide lose nothing."""
    web = shared_data / "web/warc"
    good, mixed = tmp_path / "good", tmp_path / "mixed"
    good.mkdir()
    shutil.copy(web / CC, good / CC)
    for name, source in (("a.jsonl", D0), ("b.jsonl", D1)):  # ids 0.. in both, distinct real pages
        (good / name).write_bytes(b"".join(jsonl_lines(read(web / source)[0])))
    shutil.copytree(good, mixed)
    shutil.copy(good / CC, mixed / "z_copy.warc.gz")
    shutil.copy(good / "a.jsonl", mixed / "z_copy.jsonl")
    recipe = "name: dedup\nsteps:\n  - exact_dedup: {}\n  - url_dedup: {}\n"  # MinHash etc.: test_positions
    alone = curate([good], tmp_path / "out-good", recipe)
    both = curate([mixed], tmp_path / "out-mixed", recipe)
    assert by_source(tmp_path / "out-mixed") == by_source(tmp_path / "out-good")
    assert both["output"]["docs"] == alone["output"]["docs"] > 40
    exact, exact_alone = both["steps"][0], alone["steps"][0]  # each copied document dropped exactly once
    copies = exact["docs_in"] - exact_alone["docs_in"]
    assert copies > 30 and exact["dropped"]["exact_duplicate"] == exact_alone["dropped"].get("exact_duplicate", 0) + copies


@pytest.mark.parametrize("recipe", [
    "name: nothing_left\nsteps:\n  - length: {min_chars: 1000000000}\n  - exact_dedup: {}\n"
    "  - minhash_dedup: {}\n  - simhash_dedup: {}\n  - substring_dedup: {}\n  - url_dedup: {}\n",
    "name: dedup_first\nsteps:\n  - minhash_dedup: {}\n  - exact_dedup: {}\n",
], ids=["empty_before_dedup", "recipe_starts_with_dedup"])
def test_corpus_steps_with_an_empty_or_tiny_corpus(tmp_path, recipe):
    texts = ["这是一篇关于河流和山脉的中文文章，讲述了很多故事。", "另一篇文章。", "这是一篇关于河流和山脉的中文文章，讲述了很多故事。"]
    path = tmp_path / "zh.jsonl"
    path.write_text("".join(json.dumps({"id": "0", "text": t}, ensure_ascii=False) + "\n" for t in texts))
    stats = curate([path], tmp_path / "out", recipe, workers=1)
    kept = [d.text for d in iter_corpus(tmp_path / "out")] if stats["output"]["shards"] else []
    assert kept == ([] if "nothing_left" in recipe else texts[:2])
    assert read_json(tmp_path / "out" / "stats.json")["output"]["docs"] == len(kept)
