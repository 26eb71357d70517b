"""Ray overhead: the same recipe on the same input with the local and the Ray executor, one machine.

Recipe (MassiveText-like): trafilatura extraction -> lid.176 >= 0.65 -> at least 50 words -> MinHash
LSH dedup (13-grams, 45 x 10). Input: the real HTML pages of ../shared/data/web/html_extraction (607
pages), copied `--repeat` times with distinct ids (the copies are near-duplicates for MinHash), dealt
over JSONL files of ~75 pages (one task each). Both sides use the same number of CPUs (`--workers`):
- local: `run_curation(executor="local")`, worker processes.
- ray: a local Ray instance with `--workers` CPUs (`ray.init(num_cpus=...)`), then
  `run_curation(executor="ray")`; its wall time counts starting the instance, as `roots curate
  --executor ray` without --ray-address does. The time on an already running instance is printed too.
Both runs must keep the same documents (checked). Metric: wall time ratio ray / local.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = """name: massivetext_like
description: extraction, language, length, MinHash (ray_overhead benchmark)
steps:
  - extract: {backend: trafilatura, favor_precision: true, include_comments: false, deduplicate: true,
               timeout_s: 5}
  - langid: {min_score: 0.65}
  - length: {min_words: 50}
  - minhash_dedup: {preset: massivetext}
"""
PAGES_PER_FILE = 75


def make_input(data: Path, folder: Path, repeat: int, limit: int = 0) -> int:
    pages = []
    for path in sorted((data / "web/html_extraction").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            pages += [(f"{path.name.split('_')[0]}-{i}", json.loads(line)) for i, line in enumerate(f)]
    pages = pages[:limit] if limit else pages
    records = [{"id": f"r{r}-{name}", "url": page.get("url"), "html": page["html"]}
               for r in range(repeat) for name, page in pages]
    folder.mkdir(parents=True)
    for k in range(0, len(records), PAGES_PER_FILE):
        lines = "".join(json.dumps(rec) + "\n" for rec in records[k:k + PAGES_PER_FILE])
        (folder / f"part{k // PAGES_PER_FILE:04d}.jsonl").write_text(lines)
    return len(records)


def curate(tmp: Path, out: Path, workers: int, executor: str) -> tuple[float, dict]:
    from roots.data.pipeline import CurateConfig, run_curation
    from roots.data.readers import ReaderOptions

    config = CurateConfig(recipe=str(tmp / "recipe.yaml"), input=[str(tmp / "in")], output=out,
                          workers=workers, executor=executor, reader=ReaderOptions(html_field="html"))
    start = time.perf_counter()
    stats = run_curation(config)
    return time.perf_counter() - start, stats


def ids(out: Path) -> list[str]:
    from roots.data.corpus import iter_corpus

    return sorted(d.id for d in iter_corpus(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="300 pages once (4 files)")
    parser.add_argument("--repeat", type=int, default=2, help="copies of the pages (ignored with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="roots-bench-ray-"))
    try:
        repeat, limit = (1, 300) if args.quick else (args.repeat, 0)
        n_pages = make_input(args.data, tmp / "in", repeat, limit)
        (tmp / "recipe.yaml").write_text(RECIPE)
        n_files = len(list((tmp / "in").iterdir()))
        print(f"{n_pages} HTML pages in {n_files} files, {args.workers} CPUs on each side; timings on a "
              "shared 2-core machine, under contention from other jobs")
        local_s, local_stats = curate(tmp, tmp / "local", args.workers, "local")

        start = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level=logging.WARNING)
        ray_start_s = time.perf_counter() - start
        ray_run_s, ray_stats = curate(tmp, tmp / "ray", args.workers, "ray")
        ray.shutdown()
        ray_s = ray_start_s + ray_run_s

        same = ids(tmp / "local") == ids(tmp / "ray")
        kept = local_stats["output"]["docs"]
        dedup = local_stats["steps"][-1]["dropped"].get("minhash_duplicate", 0)
        print(f"local  {local_s:7.2f} s   {n_pages / local_s:6.1f} pages/s   kept {kept} "
              f"({dedup} MinHash duplicates)")
        print(f"ray    {ray_s:7.2f} s   {n_pages / ray_s:6.1f} pages/s   kept {ray_stats['output']['docs']} "
              f"(start of the Ray instance {ray_start_s:.2f} s; on a running instance {ray_run_s:.2f} s = "
              f"{ray_run_s / local_s:.2f}x local)")
        print(f"same documents kept: {same}")
        if not same:
            print("ERROR: the two executors kept different documents")
        print(f"RESULT ray_local_wall_ratio {ray_s / local_s:.3f} goal 1.3")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
