"""Torture: a folder of real crawl files, damaged variants and colliding copies through `roots curate`.

The folder holds the shared crawl files (../shared/data/web/warc), for each gzipped WARC a few damaged
variants (truncated at 10/30/60/95%, a corrupt gzip member, a record whose Content-Length is far too
long, one whose Content-Length is 100 bytes short), a byte copy
of every file (same record ids: colliding copies), and random bytes under every input format. It runs
`roots curate --recipe refinedweb` twice: on the good files alone (the documents expected) and on the
whole folder (the documents kept). Every expected document must be kept, nothing else may appear (the
copies collapse in dedup), and every record a damage touched must be counted in stats.json:

    good_documents_lost   expected documents missing from the torture run (goal 0)
    extra_documents       documents kept that the clean run did not keep (goal 0)
    records_counted_lost  reader skips with a damage reason (gzip_corrupt, warc_bad_content_length, ...)
    uncounted_losses      per damaged file: records its damage left whole but not read, minus those
                          counted (goal 0)

    python benchmarks/torture.py [--quick] [--workers 2] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAMAGE = {"gzip_corrupt", "gzip_truncated", "zstd_corrupt", "zstd_truncated", "warc_bad_content_length",
          "warc_malformed_record", "unreadable_file", "parquet_rows_corrupt", "undecodable_bytes",
          "bad_json_line", "bad_record"}
JUNK = ["junk.warc.gz", "junk.warc", "junk.wet.gz", "junk.jsonl", "junk.jsonl.gz", "junk.jsonl.zst",
        "junk.json.zst", "junk.txt", "junk.txt.gz", "junk.txt.zst", "junk.parquet"]


def gzip_members(data: bytes) -> list[tuple[int, int]]:
    spans, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        spans.append((pos, end))
        pos = end
    return spans


def damaged_variants(name: str, data: bytes, rng: random.Random) -> list[tuple[str, bytes, bytes]]:
    """(file name, damaged bytes, its clean twin: the records the damage left whole) of one .warc.gz."""
    spans = gzip_members(data)
    responses = [(s, e) for s, e in spans if b"WARC-Type: response" in gzip.decompress(data[s:e])[:2000]]
    if len(responses) < 3:
        return []
    stem = name.removesuffix(".warc.gz")
    ends = [e for _, e in spans]
    out = []
    for p in (0.1, 0.3, 0.6, 0.95):
        cut = int(len(data) * p)
        out.append((f"{stem}.cut{int(p * 100)}.warc.gz", data[:cut], data[:max([0, *(e for e in ends if e <= cut)])]))
    s, e = responses[len(responses) // 2]
    mid = (s + e) // 2
    out.append((f"{stem}.corrupt_member.warc.gz", data[:mid] + rng.randbytes(32) + data[mid + 32:], data[:s] + data[e:]))
    for label, (s, e) in (("lying_length", responses[1]), ("short_length", responses[-1])):
        record = gzip.decompress(data[s:e])
        length = int(re.search(rb"Content-Length: (\d+)", record).group(1))
        lie = b"99999999999" if label == "lying_length" else str(length - 100).encode()
        record = re.sub(rb"Content-Length: \d+", b"Content-Length: " + lie, record, count=1)
        out.append((f"{stem}.{label}.warc.gz", data[:s] + gzip.compress(record) + data[e:], data[:s] + data[e:]))
    return out


def read_counts(path: Path) -> tuple[int, Counter]:
    from roots.data.readers import reader_for

    skipped: Counter = Counter()
    n = sum(1 for _ in reader_for(path).read(path, skipped))
    return n, skipped


def curate(inputs: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "roots.cli", "curate", "--recipe", "refinedweb", "--input", str(inputs),
           "--output", str(out), "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"curate failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def documents(out: Path) -> Counter:
    from roots.data.corpus import iter_corpus

    return Counter((d.id, d.metadata.get("url"), d.text) for d in iter_corpus(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--quick", action="store_true", help="two crawl files and their variants (under a minute)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    warcs = args.data / "web" / "warc"
    if not warcs.is_dir():
        sys.exit(f"no crawl files under {warcs}: pass --data PATH/TO/shared/data")
    names = sorted(p.name for p in warcs.iterdir() if p.is_file())
    if args.quick:
        names = ["commoncrawl_whirlwind.warc.wet.gz", "dolma_sample-0000.warc.gz"]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="roots_torture_") as tmp:
        tmp = Path(tmp)
        good, torture, twins = tmp / "good", tmp / "torture", tmp / "twins"
        for folder in (good, torture, twins):
            folder.mkdir()
        damaged = []
        for name in names:
            data = (warcs / name).read_bytes()
            (good / name).write_bytes(data)
            (torture / name).write_bytes(data)
            (torture / f"copy.{name}").write_bytes(data)  # a byte copy: every record id collides
            if name.endswith(".warc.gz"):
                for variant, bad, twin in damaged_variants(name, data, rng):
                    (torture / variant).write_bytes(bad)
                    (twins / variant).write_bytes(twin)
                    damaged.append(variant)
        for name in JUNK:
            (torture / name).write_bytes(rng.randbytes(6000))
        n_files = sum(1 for _ in torture.iterdir())

        uncounted, counted_by_reader = 0, 0
        for variant in damaged:
            n_bad, skipped_bad = read_counts(torture / variant)
            n_twin, skipped_twin = read_counts(twins / variant)
            counted = sum(v for k, v in (skipped_bad - skipped_twin).items() if k in DAMAGE)
            counted_by_reader += counted
            uncounted += max(0, n_twin - n_bad - counted)
        uncounted += sum(1 for name in JUNK if not read_counts(torture / name)[1])  # junk must count a skip

        t_good = curate(good, tmp / "out-good", args.workers)
        t_torture = curate(torture, tmp / "out-torture", args.workers)
        expected, kept = documents(tmp / "out-good"), documents(tmp / "out-torture")
        from roots.common.io import read_json

        skipped = read_json(tmp / "out-torture" / "stats.json")["reader"]["skipped"]
        shutil.rmtree(tmp / "out-good")
    lost = sum((expected - kept).values())
    extra = sum((kept - expected).values())
    counted = sum(v for k, v in skipped.items() if k in DAMAGE)
    print(f"files: {len(names)} good + {n_files - len(names)} damaged, copies and junk = {n_files} "
          f"(refinedweb, {args.workers} workers)")
    print(f"clean run:   {sum(expected.values())} documents expected ({t_good:.1f}s)")
    print(f"torture run: {sum(kept.values())} documents kept ({t_torture:.1f}s)")
    print(f"records counted as lost: {counted} ({', '.join(f'{k}={v}' for k, v in sorted(skipped.items()) if k in DAMAGE)})")
    print(f"damaged files: {len(damaged)}; records their damage touched, counted: {counted_by_reader}; "
          f"uncounted losses: {uncounted}")
    print(f"good documents lost: {lost}; extra documents: {extra}")
    print(f"RESULT uncounted_losses {uncounted} goal 0")
    print(f"RESULT good_documents_lost {lost} goal 0")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
