"""Curation throughput: roots vs datatrove on the same WARC input with the same steps.

Both sides run read WARC -> trafilatura (favor_precision, no comments, deduplicate; 5 s per-document
limit) -> fastText lid.176 >= 0.65 -> write JSONL, with the same number of worker processes.
- roots: `run_curation` with the `extract` recipe (fastwarc reader, SIGALRM time limit, .jsonl.zst out).
- datatrove 0.10.1: WarcReader (warcio) -> Trafilatura (its sandboxed subprocess time limit) -> a custom
  PipelineStep calling the same lid.176.ftz through roots' `LanguageIdentifier` (datatrove's own
  LanguageFilter downloads lid.176.bin and needs the `fasttext` module, which conflicts with
  fasttext-predict) -> JsonlWriter (.jsonl.gz).
The input is the shared WARC files (responses only; WET/WAT left out), repeated `--repeat` times under
different names. Metric: docs/s ratio roots / datatrove (same document count on both sides).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_input(data: Path, folder: Path, repeat: int) -> list[Path]:
    folder.mkdir(parents=True)
    files = []
    for src in sorted((data / "web/warc").iterdir()):
        if src.name.endswith((".warc.gz", ".warc")) and ".wat" not in src.name and ".wet" not in src.name:
            for r in range(repeat):
                dst = folder / f"r{r}_{src.name}"
                dst.symlink_to(src.resolve())
                files.append(dst)
    return files


def run_roots(folder: Path, out: Path, workers: int) -> tuple[float, int, int, float]:
    from roots.data.pipeline import CurateConfig, run_curation

    start = time.perf_counter()
    stats = run_curation(CurateConfig(recipe="extract", input=[str(folder)], output=out, workers=workers))
    elapsed = time.perf_counter() - start
    step_time = sum(s["time_s"] for s in stats["steps"])
    return elapsed, stats["reader"]["docs"], stats["output"]["docs"], step_time


def run_datatrove(folder: Path, out: Path, workers: int, n_files: int) -> tuple[float, int]:
    from datatrove.data import DocumentsPipeline
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    class Lid176Filter(PipelineStep):
        """lid.176 >= 0.65 through the same fasttext-predict model roots uses."""

        name = "lid176"

        def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
            from roots.data.langid import LanguageIdentifier

            lid = LanguageIdentifier()
            for doc in data:
                with self.track_time():
                    lang, score = lid.predict(doc.text)
                doc.metadata["lang"], doc.metadata["lang_score"] = lang, score
                if score >= 0.65:
                    yield doc

    executor = LocalPipelineExecutor(
        pipeline=[
            WarcReader(str(folder), glob_pattern="*.warc*"),
            Trafilatura(favour_precision=True, timeout=5.0, deduplicate=True),
            Lid176Filter(),
            JsonlWriter(str(out / "data")),
        ],
        tasks=n_files, workers=workers, logging_dir=str(out / "logs"),
    )
    start = time.perf_counter()
    executor.run()
    elapsed = time.perf_counter() - start
    kept = sum(1 for p in (out / "data").glob("*.jsonl.gz") for _ in __import__("gzip").open(p, "rt"))
    return elapsed, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="input files once (about 60 pages)")
    parser.add_argument("--repeat", type=int, default=4, help="copies of the input (ignored with --quick)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat

    tmp = Path(tempfile.mkdtemp(prefix="roots-bench-"))
    try:
        files = make_input(args.data, tmp / "in", repeat)
        print(f"{len(files)} WARC files, {args.workers} worker(s); timings on a shared 2-core machine, "
              "under contention from other jobs")
        dt_time, dt_kept = run_datatrove(tmp / "in", tmp / "datatrove", args.workers, len(files))
        r_time, n_docs, r_kept, step_time = run_roots(tmp / "in", tmp / "roots", args.workers)
        r_rate, dt_rate = n_docs / r_time, n_docs / dt_time
        print(f"roots      {n_docs} HTML docs in {r_time:6.2f} s = {r_rate:7.1f} docs/s, kept {r_kept}")
        print(f"datatrove  {n_docs} HTML docs in {dt_time:6.2f} s = {dt_rate:7.1f} docs/s, kept {dt_kept}")
        overhead = (r_time * args.workers - step_time) / (r_time * args.workers)
        print(f"roots: steps took {step_time:.2f} s of {r_time * args.workers:.2f} worker-seconds; "
              f"reader + writer + engine = {overhead:.0%} (includes process start-up)")
        print(f"RESULT docs_per_s_ratio {r_rate / dt_rate:.3f} goal 1.0")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
