"""`roots curate`: reader -> recipe steps -> writer over every input file, resumable after kill -9.

Each input file is one task. A task writes its shards under their final names (atomically) and then a
completion marker holding its counts; a rerun skips tasks with a marker and redoes the others from
scratch after deleting their partial shards, so no document is lost or written twice.

Steps with `needs_corpus = True` split the recipe into segments: segment k writes intermediate shards to
OUT/stages/<k>/, the corpus step's `prepare` sees all of them, and segment k+1 (starting with that step)
reads them. Every segment has its own markers.

Tasks run on an executor (executors/): local worker processes, or Ray tasks on a cluster (`--executor
ray`); the same executor runs the per-shard phases of corpus-wide steps.

Inputs and the output may be fsspec URLs (docs/remote.md). An `s3://...` output runs in a local staging
folder (`--staging-dir`); each final task uploads its finished shards (one object PUT each, so nothing
partial is ever visible) and then its completion marker to the bucket, so a rerun from any machine resumes
from the markers there. A remote input that keeps failing after the retries is a counted skip.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import (
    exists,
    is_remote,
    join,
    list_files,
    local_path,
    read_json,
    remove,
    upload,
    write_json,
)
from roots.common.records import write_run_record
from roots.common.remote import IO_STATS, RemotePath, RemoteReadError, redact
from roots.data.base import Step, StepStats
from roots.data.corpus import iter_shard
from roots.data.document import Document
from roots.data.executors import Executor, ExecutorKind, make_executor
from roots.data.readers import PathsListing, ReaderOptions, expand_inputs, reader_for
from roots.data.readers.listing import PathsKind
from roots.data.recipe import Recipe, load_recipe
from roots.data.writers import SUFFIX, Format, ShardWriter


@dataclass
class CurateConfig:
    """Run a curation recipe over input files."""

    recipe: str = field(metadata={"help": "a shipped recipe name (extract, ...) or the path of a recipe YAML"})
    input: list[str] = field(metadata={
        "help": "input files, folders (recursive), globs, URLs (s3://, https://, ...), *.paths.gz listings or "
                "cc:CC-MAIN-YYYY-WW (several, or comma-separated)"})
    output: str = field(metadata={
        "help": "output folder or URL, e.g. s3://bucket/out (rerun the same command to resume)"})
    workers: int = field(default=1, metadata={
        "help": "worker processes (--executor ray without --ray-address: CPUs of the local Ray instance)"})
    executor: ExecutorKind = field(default="local", metadata={
        "help": "where tasks run: local processes, or Ray tasks (see docs/ray.md)"})
    ray_address: str = field(default="", metadata={
        "help": "with --executor ray: a running cluster (auto, or HOST:PORT); empty starts a local instance"})
    format: Format = field(default="jsonl", metadata={"help": "output shard format"})
    write_rejects: bool = field(default=False, metadata={"help": "also write dropped documents to OUT/rejects/"})
    limit: int = field(default=0, metadata={"help": "read at most N documents per input file (0: all)"})
    shard_mb: float = field(default=256.0, metadata={"help": "start a new output shard after this many MB"})
    lang: str = field(default="", metadata={
        "help": "curate this language: every step with a `lang` takes it (ROOTS: that language's thresholds, "
                "lists, word splitter; langid keeps it), e.g. zh; `auto`: identify each document's language "
                "first and apply its parameters (languages without a row use `default`); empty: as the recipe"})
    set: list[str] = field(default_factory=list, metadata={
        "help": "override recipe step parameters: STEP.PARAM=VALUE (YAML value; several allowed), e.g. "
                "decontaminate.eval_files=test.jsonl"})
    paths_prefix: str = field(default=PathsListing.prefix, metadata={
        "help": "base URL (or folder) of relative entries in *.paths.gz listings"})
    paths_slice: str = field(default="", metadata={
        "help": "START:STOP: keep this part of each paths listing (e.g. 0:100; empty: all)"})
    paths_kind: PathsKind = field(default="warc", metadata={
        "help": "which listing cc:SNAPSHOT names: warc, wet or wat"})
    staging_dir: str = field(default="", metadata={
        "help": "with a remote --output: local folder where shards are written before upload "
                "(empty: <tmp>/roots-staging)"})
    reader: ReaderOptions = field(default_factory=ReaderOptions)


def staging_root(output: str, staging_dir: str = "") -> Path:
    """The local folder where a run to a remote `output` writes before uploading (stable across reruns)."""
    base = Path(staging_dir) if staging_dir else Path(tempfile.gettempdir()) / "roots-staging"
    return (base / hashlib.sha1(redact(output).encode()).hexdigest()[:16]).absolute()


@dataclass
class Segment:
    """One stretch of the recipe between corpus-wide steps; picklable, sent once to each worker."""

    index: int
    steps: list[Step]
    root: Path  # OUT
    out_dir: Path
    format: Format
    max_shard_bytes: int
    reader: ReaderOptions | None  # None: the inputs are roots shards of the previous segment
    limit: int = 0
    write_rejects: bool = False
    remote: str = ""  # the output URL when it is remote: finished shards and final markers are uploaded there

    @property
    def final(self) -> bool:
        return self.out_dir == self.root / "data"

    @property
    def markers(self) -> str:
        """Where completion markers live: the bucket for the final segment of a remote run, else local."""
        base = self.remote if self.remote and self.final else str(self.root)
        return join(base, "work", "markers", f"segment_{self.index}")

    def publish(self, local: str | Path) -> str:
        """Upload a finished file of a remote run (shards, rejects) to the same place under the output URL,
        then delete the staged copy; returns its path relative to the output."""
        relative = Path(local).relative_to(self.root).as_posix()
        if self.remote:
            upload(local, join(self.remote, *relative.split("/")))
            Path(local).unlink(missing_ok=True)
        return relative


@dataclass
class Task:
    index: int  # the input's place in the segment's list: the file part of its documents' positions
    path: Path | RemotePath

    @property
    def input(self) -> str:
        """The input as recorded in markers and stats (credentials redacted)."""
        return redact(str(self.path))

    @property
    def name(self) -> str:
        """Prefix of its output shards and the name of its marker."""
        return f"{self.index:05d}"


def split_segments(steps: list[Step]) -> list[list[Step]]:
    """Cut the step list before every corpus-wide step (a recipe starting with one gets an empty first
    segment, which only turns the inputs into shards for its `prepare`)."""
    segments: list[list[Step]] = [[]]
    for step in steps:
        if step.needs_corpus:
            segments.append([])
        segments[-1].append(step)
    return segments


# ------------------------------------------------------------------------------------- in the worker

_SEGMENT: Segment | None = None


def _init_worker(segment: Segment) -> None:
    global _SEGMENT
    _SEGMENT = segment
    for step in segment.steps:
        step.setup()


def _counted(docs: Iterator[Document], counter: list[int]) -> Iterator[Document]:
    for doc in docs:
        counter[0] += 1
        yield doc


def _remove_partial(segment: Segment, name: str) -> None:
    """Delete what a killed attempt at this task may have left: shards and temporary files."""
    dirs = [segment.out_dir, *(segment.root / "rejects" / step.name for step in segment.steps)]
    for directory in dirs:
        for path in [*directory.glob(f"{name}-*"), *directory.glob(f".{name}-*.tmp")]:
            path.unlink(missing_ok=True)
        if segment.remote and (segment.final or directory != segment.out_dir):  # uploaded by a killed attempt
            relative = directory.relative_to(segment.root).parts
            for url in list_files(join(segment.remote, *relative, f"{name}-*")):
                remove(url)


def _guarded(docs: Iterator[Document], path: Path | RemotePath, skipped: Counter) -> Iterator[Document]:
    """The documents of a remote input up to a failure that outlived the retries, which is counted
    (`remote_read_failed`, or `remote_not_found` for an entry of a listing that is not there)."""
    try:
        yield from docs
    except RemoteReadError as e:
        skipped["remote_read_failed"] += 1
        print(f"warning: {e}; skipped the rest of {redact(str(path))}", file=sys.stderr)
    except FileNotFoundError:
        if not isinstance(path, RemotePath):
            raise
        skipped["remote_not_found"] += 1
        print(f"warning: {redact(str(path))} not found; skipped", file=sys.stderr)


def _run_task(task: Task) -> dict[str, Any]:
    segment = _SEGMENT
    assert segment is not None, "worker not initialised"
    start = time.perf_counter()
    _remove_partial(segment, task.name)
    skipped: Counter = Counter()
    n_read = [0]
    retries_before = IO_STATS["io_retries"]
    if segment.reader is not None:
        docs = reader_for(task.path, segment.reader).read(task.path, skipped, segment.limit, task.index)
        docs = _guarded(docs, task.path, skipped)
    else:
        docs = iter_shard(task.path, skipped, index=task.index)
    docs = _counted(docs, n_read)

    rejects: dict[str, ShardWriter] = {}

    def reject(doc: Document, reason: str, step: str) -> None:
        if step not in rejects:
            rejects[step] = ShardWriter(segment.root / "rejects" / step, task.name, "jsonl")
        doc.metadata["reject_reason"] = reason
        rejects[step].write(doc)

    stats = [StepStats(step.name) for step in segment.steps]
    for step, step_stats in zip(segment.steps, stats):
        sink = (lambda d, r, s=step.name: reject(d, r, s)) if segment.write_rejects else None
        docs = step.run(docs, step_stats, sink)
    with ShardWriter(segment.out_dir, task.name, segment.format, segment.max_shard_bytes) as writer:
        for doc in docs:
            writer.write(doc)
    reject_shards = [s for w in rejects.values() for s in w.close()]
    if segment.final:
        relative = [{**s, "path": segment.publish(s["path"])} for s in writer.shards]
    else:  # intermediate shards stay in the (staging) folder, where the next segment reads them
        relative = [{**s, "path": str(Path(s["path"]).relative_to(segment.root))} for s in writer.shards]
    reader_stats: dict[str, Any] = {"docs": n_read[0], "skipped": dict(skipped)}
    if IO_STATS["io_retries"] > retries_before:
        reader_stats["io_retries"] = IO_STATS["io_retries"] - retries_before
    result = {
        "input": task.input,
        "reader": reader_stats,
        "steps": [s.to_dict() for s in stats],
        "output": {"docs": sum(s["docs"] for s in relative), "chars": sum(s["chars"] for s in relative),
                   "shards": relative},
        "rejects": [segment.publish(s["path"]) for s in reject_shards],
        "time_s": round(time.perf_counter() - start, 3),
    }
    write_json(join(segment.markers, f"{task.name}.json"), result)  # the completion marker, written last
    return result


# ------------------------------------------------------------------------------------- in the driver


def _check_same_run(out: str, identity: dict[str, Any]) -> None:
    """A rerun into the same folder must be the same job, or resuming would mix two runs."""
    path = join(out, "work", "job.json")
    if exists(path):
        previous = read_json(path)
        if previous != identity:
            changed = sorted(k for k in identity if previous.get(k) != identity.get(k))
            raise UserError(f"{out} holds a different curate run (changed: {', '.join(changed)}); "
                            f"use a new --output folder or delete {out}")
    else:
        write_json(path, identity)


def _run_segment(segment: Segment, tasks: list[Task], executor: Executor, docs_done: list[int]
                 ) -> list[dict[str, Any]]:
    from tqdm import tqdm

    results: dict[str, dict[str, Any]] = {}
    todo = []
    done = set(list_files(join(segment.markers, "*.json")))  # one listing, not one request per task
    for task in tasks:
        marker = join(segment.markers, f"{task.name}.json")
        if marker in done:
            results[task.name] = read_json(marker)
        else:
            todo.append(task)
    start = time.perf_counter()
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="file", file=sys.stderr,
               desc=f"curate segment {segment.index}", disable=None)
    names = {t.input: t.name for t in todo}
    segment_docs = 0
    for result in executor.imap(_run_task, todo, _init_worker, (segment,)):
        results[names[result["input"]]] = result
        segment_docs += result["reader"]["docs"]
        bar.update(1)
        bar.set_postfix(docs_per_s=f"{segment_docs / max(time.perf_counter() - start, 1e-9):.1f}")
    if segment.index == 0:  # docs/s of the job counts input documents once, not once per segment
        docs_done[0] += segment_docs
    bar.close()
    return [results[t.name] for t in tasks]


def _merge_stats(recipe: Recipe, n_inputs: int, per_segment: list[list[dict]], segments: list[Segment],
                 elapsed: float, docs_this_run: int) -> dict[str, Any]:
    reader_skipped: Counter = Counter()
    io_retries = 0
    for r in per_segment[0]:
        reader_skipped.update(r["reader"]["skipped"])
        io_retries += r["reader"].get("io_retries", 0)
    for results in per_segment[1:]:  # intermediate shards are roots' own: problems there are counted too
        for r in results:
            reader_skipped.update({f"stage_{k}": v for k, v in r["reader"]["skipped"].items()})
    steps = []
    for segment, results in zip(segments, per_segment):
        for i, step in enumerate(segment.steps):
            merged = StepStats(step.name)
            for r in results:
                merged.merge(StepStats.from_dict(r["steps"][i]))
            steps.append(merged.to_dict())
    final = per_segment[-1]
    by_lang = _by_language(steps)
    return {
        "recipe": recipe.name,
        "inputs": n_inputs,
        "reader": {"docs": sum(r["reader"]["docs"] for r in per_segment[0]), "skipped": dict(reader_skipped),
                   **({"io_retries": io_retries} if io_retries else {})},
        "steps": steps,
        "output": {"docs": sum(r["output"]["docs"] for r in final),
                   "chars": sum(r["output"]["chars"] for r in final),
                   "shards": [s["path"] for r in final for s in r["output"]["shards"]]},
        "time_s": round(elapsed, 3),
        "docs_per_s": round(docs_this_run / elapsed, 1) if elapsed > 0 else None,
        **({"by_lang": by_lang} if by_lang else {}),
    }


def _by_language(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per identified language: documents identified, kept at the end, and dropped by each step."""
    out: dict[str, dict[str, Any]] = {}
    for s in steps:
        for lang, c in s.get("by_lang", {}).items():
            row = out.setdefault(lang, {"identified": c["in"], "kept": c["in"], "dropped": {}})
            if c["in"] > c["out"]:
                row["dropped"][s["name"]] = row["dropped"].get(s["name"], 0) + c["in"] - c["out"]
                row["kept"] -= c["in"] - c["out"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["identified"]))


def run_curation(config: CurateConfig) -> dict[str, Any]:
    """Run (or resume) a curation job; returns the stats written to OUT/stats.json."""
    output = local_path(config.output)
    remote = output if is_remote(output) else ""
    # workers may run elsewhere (Ray): every path they see is absolute
    out = staging_root(remote, config.staging_dir) if remote else Path(output).absolute()
    listing = PathsListing(prefix=config.paths_prefix, slice=config.paths_slice, kind=config.paths_kind)
    # a missing input fails here, before any work; an output folder inside an input folder is not input
    inputs = [p for p in expand_inputs(config.input, listing) if isinstance(p, RemotePath) or out not in p.parents]
    if not inputs:
        raise UserError(f"no input files outside the output folder {out}")
    recipe = load_recipe(config.recipe)
    if config.lang:
        recipe = recipe.for_language(config.lang)
    recipe = recipe.with_overrides(config.set)
    steps = recipe.build_steps()
    executor = make_executor(config.executor, config.workers, config.ray_address)  # Ray starts on first use
    input_names = [redact(str(p)) for p in inputs]
    _check_same_run(remote or str(out), {"recipe": recipe.to_dict(), "inputs": input_names,
                                         "format": config.format, "limit": config.limit,
                                         "reader": vars(config.reader).copy()})
    start = time.perf_counter()
    docs_done = [0]
    groups = split_segments(steps)
    segments, per_segment = [], []
    tasks = [Task(i, p) for i, p in enumerate(inputs)]
    with executor:
        for k, group in enumerate(groups):
            final = k == len(groups) - 1
            segment = Segment(
                index=k, steps=group, root=out, out_dir=out / "data" if final else out / "stages" / str(k),
                format=config.format if final else "jsonl", max_shard_bytes=int(config.shard_mb * (1 << 20)),
                reader=config.reader if k == 0 else None, limit=config.limit if k == 0 else 0,
                write_rejects=config.write_rejects, remote=remote,
            )
            if k > 0:
                shards = [out / s["path"] for r in per_segment[-1] for s in r["output"]["shards"]]
                if not group[0].not_applied:  # a step flagged NOT APPLIED has nothing to prepare
                    group[0].prepare(shards, work_dir=out / "work" / group[0].name, workers=config.workers,
                                     executor=executor)
                tasks = [Task(i, p) for i, p in enumerate(shards)]
            per_segment.append(_run_segment(segment, tasks, executor, docs_done))
            segments.append(segment)
    stats = _merge_stats(recipe, len(inputs), per_segment, segments, time.perf_counter() - start, docs_done[0])
    write_json(out / "stats.json", stats)
    from roots.data.lists import lists_of_steps

    recorded = replace(config, input=[redact(i) for i in config.input], output=redact(output))
    write_run_record(out, "curate", recorded, recipe=recipe.to_dict(), inputs=input_names,
                     lists=lists_of_steps(steps), not_applied=not_applied(stats),
                     output={k: stats["output"][k] for k in ("docs", "chars")}, time_s=stats["time_s"])
    try:
        from roots.data.report import write_report
    except ImportError:
        pass
    else:
        write_report(out)
    if remote:  # the run's summary files; stats.json last, as the sign that the run is complete
        for name in ("run.json", "report.html", "funnel.png", "stats.json"):
            if (out / name).exists():
                upload(out / name, join(remote, name))
    return stats


def not_applied(stats: dict[str, Any]) -> list[dict[str, str]]:
    """The steps of a run that did nothing because their inputs were missing (recipe-optional steps)."""
    return [{"step": s["name"], "reason": s["not_applied"]} for s in stats["steps"] if s.get("not_applied")]


def curate(config: CurateConfig) -> int:
    """CLI entry point of `roots curate`."""
    stats = run_curation(config)
    skipped = sum(stats["reader"]["skipped"].values())
    retries = stats["reader"].get("io_retries", 0)
    print(f"curate: {stats['reader']['docs']} documents read ({skipped} skipped"
          f"{f', {retries} read retries' if retries else ''}) from {stats['inputs']} files, "
          f"{stats['output']['docs']} kept in {len(stats['output']['shards'])} shard(s) "
          f"-> {redact(join(local_path(config.output), 'data'))} ({config.format}; stats.json, run.json)")
    for item in not_applied(stats):
        print(f"curate: NOT APPLIED: {item['step']}: {item['reason']}")
    return 0


__all__ = ["SUFFIX", "CurateConfig", "curate", "run_curation"]
