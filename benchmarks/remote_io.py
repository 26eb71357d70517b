"""Remote input: `roots curate` streaming WARC files from an HTTP server vs reading them from local disk.

The input is the shared WARC files (responses only), repeated `--repeat` times under different names, in a
folder that is both read locally and served by `roots.common.fileserver` on 127.0.0.1 (HTTP/1.1, Range,
the way data.commoncrawl.org serves a snapshot) with a generated `warc.paths.gz` listing them.
- roots: `run_curation` with the `extract` recipe (fastwarc -> trafilatura -> lid.176 -> .jsonl.zst), once
  with `--input FOLDER`, once with `--input http://127.0.0.1:PORT/warc.paths.gz`; the outputs must be equal.
- anchor: datatrove 0.10.1's WarcReader over its fsspec DataFolder, on the same folder and on the same URLs,
  feeding a JsonlWriter (reading only: its own remote/local ratio, for scale).
Runs alternate local/remote for `--rounds` rounds and keep each side's best time (the machine is shared).
Metric: roots remote / local wall time (goal <= 1.1, issue 19).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_input(data: Path, folder: Path, repeat: int) -> list[str]:
    folder.mkdir(parents=True)
    names = []
    for src in sorted((data / "web/warc").iterdir()):
        if src.name.endswith(".warc.gz") and ".wat" not in src.name and ".wet" not in src.name:
            for r in range(repeat):
                name = f"r{r}_{src.name}"
                shutil.copy(src, folder / name)
                names.append(name)
    return names


def run_roots(inputs: list[str], out: Path, prefix: str = "") -> tuple[float, dict, list]:
    from roots.data.corpus import iter_corpus
    from roots.data.pipeline import CurateConfig, run_curation

    shutil.rmtree(out, ignore_errors=True)
    config = CurateConfig(recipe="extract", input=inputs, output=str(out))
    if prefix:
        config.paths_prefix = prefix
    start = time.perf_counter()
    stats = run_curation(config)
    elapsed = time.perf_counter() - start
    return elapsed, stats, [(d.id, d.text) for d in iter_corpus(out)]


def run_datatrove(folder: str, paths_file: Path, out: Path) -> tuple[float, int]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    shutil.rmtree(out, ignore_errors=True)
    executor = LocalPipelineExecutor(
        # its listing, like ours: names relative to the folder (fsspec cannot list an HTTP "folder")
        pipeline=[WarcReader(folder, paths_file=str(paths_file)), JsonlWriter(str(out / "data"))],
        tasks=1, workers=1, logging_dir=str(out / "logs"))
    start = time.perf_counter()
    executor.run()
    elapsed = time.perf_counter() - start
    docs = 0
    for path in (out / "data").glob("*.jsonl.gz"):
        with gzip.open(path, "rt") as f:
            docs += sum(1 for _ in f)
    return elapsed, docs


def main() -> None:
    from roots.common.fileserver import FileServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="input files once (about 60 pages), 2 rounds")
    parser.add_argument("--repeat", type=int, default=8, help="copies of the input (ignored with --quick)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating local/remote rounds (2 with --quick)")
    parser.add_argument("--no-anchor", action="store_true", help="skip datatrove")
    args = parser.parse_args()
    repeat, rounds = (1, 2) if args.quick else (args.repeat, args.rounds)

    tmp = Path(tempfile.mkdtemp(prefix="roots-bench-remote-"))
    try:
        folder = tmp / "served" / "crawl"
        names = make_input(args.data, folder, repeat)
        with gzip.open(tmp / "served" / "warc.paths.gz", "wt") as f:
            f.write("".join(f"crawl/{n}\n" for n in names))
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"{len(names)} WARC files ({size_mb:.1f} MB), 1 worker, {rounds} rounds; timings on a shared "
              "2-core machine")
        with FileServer(tmp / "served") as server:
            local_t, remote_t = [], []
            for _ in range(rounds):
                t, local_stats, local_docs = run_roots([str(folder)], tmp / "local")
                local_t.append(t)
                t, remote_stats, remote_docs = run_roots([f"{server.url}/warc.paths.gz"], tmp / "remote",
                                                         prefix=server.url)
                remote_t.append(t)
                assert remote_docs == local_docs, "remote output differs from the local run"
            n = local_stats["reader"]["docs"]
            lt, rt = min(local_t), min(remote_t)
            print(f"roots local   {n} docs in {lt:6.2f} s = {n / lt:7.1f} docs/s (runs: "
                  f"{', '.join(f'{x:.2f}' for x in local_t)})")
            print(f"roots remote  {n} docs in {rt:6.2f} s = {n / rt:7.1f} docs/s (runs: "
                  f"{', '.join(f'{x:.2f}' for x in remote_t)}), kept {len(remote_docs)} = local, "
                  f"retries {remote_stats['reader'].get('io_retries', 0)}")
            if not args.no_anchor:
                try:
                    names_file = tmp / "names.txt"
                    names_file.write_text("".join(f"{n}\n" for n in names))
                    dl, dl_docs = run_datatrove(str(folder), names_file, tmp / "dt_local")
                    dr, dr_docs = run_datatrove(f"{server.url}/crawl", names_file, tmp / "dt_remote")
                    print(f"datatrove read local   {dl_docs} docs in {dl:6.2f} s")
                    print(f"datatrove read remote  {dr_docs} docs in {dr:6.2f} s (remote/local {dr / dl:.2f})")
                except ImportError as e:
                    print(f"datatrove anchor skipped: {e} (pip install 'roots[bench]')")
        print(f"RESULT remote_local_wall_ratio {rt / lt:.3f} goal 1.1")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
