"""The Ray executor on a local 2-CPU Ray instance: same documents and stats as the local executor, and a
worker killed mid-task costs neither a document nor a duplicate. Skipped when Ray cannot start."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.common.io import read_json
from roots.data import registry
from roots.data.base import Step
from roots.data.corpus import iter_corpus
from roots.data.executors import LocalExecutor
from roots.data.pipeline import CurateConfig, run_curation

REPO = Path(__file__).resolve().parents[3]

RECIPE = """name: filters_and_minhash
steps:
  - length: {min_words: 20}
  - minhash_dedup: {preset: fineweb}
"""


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'roots[ray]')")
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    except Exception as e:  # no shared memory, no free ports, ...
        pytest.skip(f"Ray cannot start here: {type(e).__name__}: {e}")
    # Ray workers cannot import this test module: send the classes defined here by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def cnndm_inputs(tmp_path_factory, shared_data) -> Path:
    """960 real summaries in 60 near-duplicate clusters, dealt over 6 JSONL files (one task each)."""
    folder = tmp_path_factory.mktemp("inputs")
    with gzip.open(shared_data / "dedup/cnndm_reference_variants_shared.jsonl.gz", "rt") as f:
        records = [json.loads(line) for line in f]
    for k in range(6):
        lines = [json.dumps({"id": f"c{r['cluster_id']}-{k}-{i}", "text": r["text"]})
                 for i, r in enumerate(records[k::6])]
        (folder / f"part{k}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "recipe.yaml").write_text(RECIPE)
    return folder


@pytest.fixture(scope="module")
def local_run(cnndm_inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    run_curation(CurateConfig(recipe=str(cnndm_inputs / "recipe.yaml"), input=[str(cnndm_inputs)],
                              output=out, workers=2))
    return out


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in ("time_s", "docs_per_s")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def ids(out: Path) -> Counter:
    return Counter(d.id for d in iter_corpus(out))


def test_ray_and_local_give_the_same_documents_and_stats(ray_instance, cnndm_inputs, local_run, tmp_path):
    assert ray_instance.cluster_resources()["CPU"] == 2
    out = tmp_path / "out"
    assert main(["curate", "--recipe", str(cnndm_inputs / "recipe.yaml"), "--input", str(cnndm_inputs),
                 "--output", str(out), "--executor", "ray", "--workers", "2"]) == 0
    assert ids(out) == ids(local_run) and max(ids(out).values()) == 1
    stats, local = read_json(out / "stats.json"), read_json(local_run / "stats.json")
    assert without_timings(stats) == without_timings(local)
    dedup = stats["steps"][1]
    assert dedup["name"] == "minhash_dedup" and dedup["dropped"]["minhash_duplicate"] > 800
    assert 60 <= stats["output"]["docs"] < 80  # one survivor per cluster, a few variants too far apart
    # the clustering ran as several Ray tasks whose links were merged: one file per group of bands
    assert len(list((out / "work/minhash_dedup/cluster").glob("slots_*.npy"))) == 4


@dataclass
class KillWorkerOnce(Step):
    """SIGKILLs its own worker process at document `target`, the first time only (`flag` remembers)."""

    name: ClassVar[str] = "kill_worker_once"
    target: str = ""
    flag: str = ""

    def process(self, doc):
        if doc.id == self.target:
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return None  # the retry
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)  # earlier documents of this task are already written
        return None


def test_a_killed_worker_is_retried_without_loss_or_duplicates(ray_instance, cnndm_inputs, local_run,
                                                               tmp_path, monkeypatch):
    monkeypatch.setitem(registry.STEPS, "kill_worker_once", f"{__name__}:KillWorkerOnce")
    # one kill before dedup (the last document of an input), one after it (a survivor of the dedup)
    before = [json.loads(line)["id"] for line in (cnndm_inputs / "part3.jsonl").read_text().splitlines()][-1]
    after = sorted(ids(local_run))[-1]
    flags = [tmp_path / "killed_before.pid", tmp_path / "killed_after.pid"]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.replace("steps:\n", f"steps:\n  - kill_worker_once: {{target: {before}, "
                                                 f"flag: {flags[0]}}}\n")
                      + f"  - kill_worker_once: {{target: {after}, flag: {flags[1]}}}\n")
    out = tmp_path / "out"
    stats = run_curation(CurateConfig(recipe=str(recipe), input=[str(cnndm_inputs)], output=out,
                                      executor="ray", workers=2))
    for flag in flags:
        assert flag.exists() and int(flag.read_text()) != os.getpid(), "a Ray worker was killed mid-task"
    assert ids(out) == ids(local_run), "every document once: none lost, none written twice"
    assert stats["reader"]["docs"] == 960 and stats["output"]["docs"] == sum(ids(out).values())
    assert not list(out.rglob(".*.tmp"))


@dataclass
class PauseAt(Step):
    """Waits at document `target` long enough for the test to kill the driver meanwhile."""

    name: ClassVar[str] = "pause_at"
    target: str = ""
    flag: str = ""

    def process(self, doc):
        if doc.id == self.target and not Path(self.flag).exists():
            Path(self.flag).touch()
            time.sleep(60)
        return None


@pytest.mark.slow
def test_a_killed_driver_reruns_and_resumes_from_markers(ray_instance, cnndm_inputs, local_run, tmp_path):
    # a driver of its own (with its own local Ray instance), killed with its Ray processes while a task waits
    target = json.loads((cnndm_inputs / "part5.jsonl").read_text().splitlines()[0])["id"]
    flag = tmp_path / "paused"
    recipe = tmp_path / "recipe.yaml"
    pause = f"  - pause_at: {{target: {target}, flag: {flag}}}\n"
    recipe.write_text(RECIPE.replace("steps:\n", "steps:\n" + pause))
    out = tmp_path / "out"
    args = ["curate", "--recipe", str(recipe), "--input", str(cnndm_inputs), "--output", str(out),
            "--executor", "ray", "--workers", "2"]
    command = [sys.executable, "-c",
               "import sys; from roots.cli import main; from roots.data import registry; "
               f"registry.STEPS['pause_at'] = 'test_ray:PauseAt'; sys.exit(main({args!r}))"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(Path(__file__).parent)])}
    proc = subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = out / "work/markers/segment_0"
    deadline = time.time() + 120
    while time.time() < deadline and not (flag.exists() and len(list(markers.glob("*.json"))) >= 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started, mid-run
    proc.wait()
    assert 2 <= len(list(markers.glob("*.json"))) < 6 and not (out / "stats.json").exists()

    subprocess.run(command, env=env, check=True, capture_output=True)
    assert ids(out) == ids(local_run), "every document once: none lost, none written twice"
    stats = read_json(out / "stats.json")
    assert stats["reader"]["docs"] == 960 and stats["output"]["docs"] == sum(ids(out).values())


def _init(folder: str, value: int) -> None:
    with open(Path(folder) / str(os.getpid()), "a") as f:  # one line per init call in this process
        f.write(f"{value}\n")
    os.environ["ROOTS_TEST_INIT_VALUE"] = str(value)


def _task(x: int) -> tuple[int, int]:
    return os.getpid(), int(os.environ["ROOTS_TEST_INIT_VALUE"]) * x


def test_init_runs_once_per_worker_process_and_per_map(ray_instance, tmp_path):
    from roots.data.executors.ray import RayExecutor

    executor = RayExecutor(2)
    for value in (10, 100):  # the second map initialises again the processes that ran the first
        results = list(executor.imap(_task, range(20), _init, (str(tmp_path), value)))
        assert sorted(r[1] for r in results) == [value * x for x in range(20)]
        for pid in {pid for pid, _ in results}:
            assert (tmp_path / str(pid)).read_text().split().count(str(value)) == 1
    executor.close()
    assert ray_instance.is_initialized(), "an instance the executor did not start is left running"


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise UserError("bad input 3")
    return x


def test_a_task_error_reaches_the_caller_as_itself(ray_instance):
    from roots.data.executors.ray import RayExecutor

    with pytest.raises(UserError, match="bad input 3"):
        list(RayExecutor(2).imap(_fail_on_three, range(6)))
    assert sorted(LocalExecutor(1).imap(_fail_on_three, [1, 2])) == [1, 2]


def test_ray_dedup_keys_on_position_not_id(ray_instance, tmp_path):
    """Two files with colliding ids 0..9 and a byte copy of one: distinct documents all survive, the copy
    collapses to the first file's documents, as with the local executor."""
    import shutil

    for name, offset in (("a", 0), ("b", 100)):
        lines = [json.dumps({"id": str(i), "text": f"document {offset + i} " + " ".join(
            f"word{(offset + i) * 7 + j}" for j in range(30))}) for i in range(10)]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(tmp_path / "a.jsonl", tmp_path / "c.jsonl")
    (tmp_path / "recipe.yaml").write_text("name: exact\nsteps:\n  - exact_dedup: {}\n")
    out = tmp_path / "out"
    run_curation(CurateConfig(recipe=str(tmp_path / "recipe.yaml"), output=out, executor="ray", workers=2,
                              input=[str(tmp_path / f"{n}.jsonl") for n in "abc"]))
    docs = list(iter_corpus(out))
    assert ids(out) == Counter({str(i): 2 for i in range(10)})
    assert {d.metadata["source"] for d in docs} == {"a.jsonl", "b.jsonl"}
