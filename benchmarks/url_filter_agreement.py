"""roots' default URL filter vs datatrove's URLFilter (same published lists), and the memory it costs.

URLs: every URL of the shared pages (WARC target URIs, html_extraction pages), the 19,586 UT1 URLs, and
URLs built from RefinedWeb's word lists (one per hard word, per sub-word, per soft-word pair), so that
every rule is exercised. Agreement = share of URLs both sides keep or both drop.

Memory: peak PSS (proportional set size: shared memory-mapped pages split between the processes that
map them) summed over the process tree of `roots curate --recipe refinedweb --workers 2` on WARC input,
with the published lists (today) and with no URL lists at all (`url_filter.use_default_lists=false`, the
floor of the old 14-domain sample). The goal: within 1.3x.

    python benchmarks/url_filter_agreement.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import DEFAULT_DATA

REPO = Path(__file__).resolve().parent.parent


def shared_urls(data: Path) -> list[str]:
    from fastwarc.warc import ArchiveIterator

    urls = []
    for path in sorted((data / "web" / "warc").glob("*.warc*")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, parse_http=False):
                uri = rec.headers.get("WARC-Target-URI")
                if uri:
                    urls.append(uri.strip("<>"))
    for path in sorted((data / "web" / "html_extraction").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            urls += [u for line in f if (u := json.loads(line).get("url"))]
    return sorted(set(urls))


def word_urls(quick: bool) -> list[str]:
    from datatrove.utils._import_utils import ASSETS_PATH

    def words(name: str) -> list[str]:
        lines = Path(ASSETS_PATH, name).read_text(encoding="utf-8").splitlines()
        return [w.strip() for w in lines if w.strip() and not w.startswith("#")]

    hard, soft, sub = words("banned_words.txt"), words("soft_banned_words.txt"), words("banned_subwords.txt")
    urls = [f"https://example.com/{w.replace(' ', '-')}/page" for w in hard + sub]
    pairs = list(itertools.combinations(soft, 2))
    urls += [f"https://news.example.org/{a}-and-{b}" for a, b in (pairs[::20] if quick else pairs)]
    urls += [f"https://shop.example.net/{w}-sale" for w in soft]  # one soft word: kept by both
    return urls


def ut1_urls() -> list[str]:
    from roots.data.lists import _tar_member, parse_lines, ut1_archive

    return list(parse_lines(_tar_member(ut1_archive()[0], "urls")))


def datatrove_filter():
    from datatrove.data import Document
    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    f = URLFilter()
    f.tldextractor = TLDExtract(suffix_list_urls=())  # offline: the bundled public suffix list
    f.download_data()

    def keep(url: str) -> bool:
        out = f.filter(Document(text="", id="x", metadata={"url": url}))
        return out is True or (isinstance(out, tuple) and out[0])

    return keep


def agreement(urls: list[str]) -> tuple[float, list[tuple[str, bool, str | None]]]:
    from roots.data.document import Document
    from roots.data.filters.url_filter import UrlFilter

    ours = UrlFilter()
    t = time.perf_counter()
    ours.setup()
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    reasons = [ours.filter(Document("x", "", metadata={"url": u})) for u in urls]
    ours_s = time.perf_counter() - t
    keep = datatrove_filter()
    t = time.perf_counter()
    theirs = [keep(u) for u in urls]
    theirs_s = time.perf_counter() - t
    diffs = [(u, k, r) for u, k, r in zip(urls, theirs, reasons) if k != (r is None)]
    print(f"roots url_filter: {len(urls) / ours_s:,.0f} URLs/s (setup {setup_s:.1f} s, lists memory-mapped); "
          f"datatrove URLFilter: {len(urls) / theirs_s:,.0f} URLs/s")
    print(f"dropped: roots {sum(r is not None for r in reasons):,}, datatrove {sum(not k for k in theirs):,} "
          f"of {len(urls):,}")
    return 1 - len(diffs) / len(urls), diffs


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_pss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak PSS of the process tree in MB, seconds) of one command, sampled every 50 ms."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            pids = [root.pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        peak = max(peak, sum(_pss_kb(p) for p in pids))
        time.sleep(0.05)
    if proc.returncode != 0:
        sys.exit(f"curate failed: {proc.stderr.read().decode()[-2000:]}")
    return peak / 1024, time.perf_counter() - start


def memory(data: Path, quick: bool) -> float:
    inputs = [str(p) for p in sorted((data / "web" / "warc").glob("*.warc.gz"))
              if ".wat" not in p.name and ".wet" not in p.name]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    from roots.data.lists import load_list

    load_list("ut1_domains")  # built once in the cache before timing: both runs then only map it
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("no URL lists (floor of before)", ["--set", "url_filter.use_default_lists=false"]),
                             ("published lists (UT1 4.6M domains)", [])):
            out = Path(tmp) / label.split()[0]
            cmd = [sys.executable, "-m", "roots.cli", "curate", "--recipe", "refinedweb", "--input", *inputs,
                   "--output", str(out), "--workers", "2", *(["--limit", "40"] if quick else []), *extra]
            results[label], secs = peak_pss_mb(cmd, env)
            print(f"refinedweb curate, 2 workers, {label}: peak PSS {results[label]:.0f} MB ({secs:.0f} s)")
    before, now = results.values()
    return now / before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="every 20th soft-word pair; 40 docs per WARC")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    page_urls, ut1 = shared_urls(args.data), ut1_urls()
    urls = page_urls + ut1 + word_urls(args.quick)
    print(f"{len(page_urls):,} shared page URLs + {len(ut1):,} UT1 URLs + {len(urls) - len(page_urls) - len(ut1):,} "
          f"URLs built from RefinedWeb's word lists")
    value, diffs = agreement(urls)
    for url, theirs_keep, reason in diffs[:20]:
        print(f"  differs: {url[:100]} datatrove={'keep' if theirs_keep else 'drop'} roots={reason or 'keep'}")
    if not args.skip_memory:
        ratio = memory(args.data, args.quick)
        print(f"RESULT refinedweb_peak_memory_ratio {ratio:.2f} goal 1.3")
    print(f"RESULT url_filter_agreement {value:.4f} goal 0.999")


if __name__ == "__main__":
    main()
