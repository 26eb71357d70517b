"""`roots curate` from and to remote storage (docs/remote.md), over real servers on 127.0.0.1: an HTTP file
server with Range support serving the shared Common Crawl WARC files and a generated `warc.paths.gz`, and an
S3 API (moto's server mode). Every remote run must give exactly the documents of the same run on local files."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from roots.cli import main
from roots.common.fileserver import FileServer
from roots.common.io import list_files, read_json, upload_tree
from roots.data.corpus import iter_corpus
from roots.data.pipeline import CurateConfig, run_curation
from roots.data.readers import PathsListing, RemotePath, expand_inputs
from roots.tokenizer.sources import iter_texts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ROOTS_IO_BACKOFF", "0.01")
    monkeypatch.setenv("ROOTS_IO_RETRIES", "6")


@pytest.fixture
def crawl(tmp_path, shared_data):
    """A served folder: `crawl/*.warc.gz` (the shared WARC files) and `warc.paths.gz` listing them relatively."""
    root = tmp_path / "served"
    (root / "crawl").mkdir(parents=True)
    names = sorted(p.name for p in (shared_data / "web/warc").glob("*.warc.gz"))
    for name in names:
        shutil.copy(shared_data / "web/warc" / name, root / "crawl" / name)
    with gzip.open(root / "warc.paths.gz", "wt") as f:
        f.write("".join(f"crawl/{name}\n" for name in names))
    return root


def documents(out) -> list[tuple]:
    return [(d.id, d.text, d.metadata) for d in iter_corpus(out)]


def local_run(crawl: Path, out: Path, recipe: str = "extract") -> list[tuple]:
    run_curation(CurateConfig(recipe=recipe, input=[str(crawl / "crawl")], output=str(out)))
    return documents(out)


def test_paths_listing_and_snapshot_shorthand(crawl, tmp_path, capsys):
    with FileServer(crawl) as server:
        listing = PathsListing(prefix=server.url + "/", slice="1:3")
        files = expand_inputs([f"{server.url}/warc.paths.gz"], listing)
        assert files == [RemotePath(f"{server.url}/crawl/{n}") for n in
                         sorted(p.name for p in (crawl / "crawl").iterdir())[1:3]]
        # cc:SNAPSHOT is <prefix>crawl-data/SNAPSHOT/<kind>.paths.gz
        snapshot = crawl / "crawl-data" / "CC-MAIN-2024-10"
        snapshot.mkdir(parents=True)
        with gzip.open(snapshot / "wet.paths.gz", "wt") as f:
            f.write("crawl/a.warc.wet.gz\n\n")
        files = expand_inputs(["cc:CC-MAIN-2024-10"], PathsListing(prefix=server.url, kind="wet"))
        assert files == [RemotePath(f"{server.url}/crawl/a.warc.wet.gz")]
        # a local listing with a local prefix gives local files
        (tmp_path / "local.paths").write_text("crawl/x.warc.gz\n")
        assert expand_inputs([str(tmp_path / "local.paths")], PathsListing(prefix=str(crawl))) == [
            crawl / "crawl" / "x.warc.gz"]
        for bad, message in ((["cc:2024-10"], "expected cc:CC-MAIN"), ([f"{server.url}/none.paths.gz"], "not found"),
                             ([f"{server.url}/crawl/none.warc.gz"], "input not found")):
            assert main(["curate", "--recipe", "extract", "--input", *bad, "--output", str(tmp_path / "o")]) == 2
            assert message in capsys.readouterr().err
        with pytest.raises(Exception, match="START:STOP"):
            PathsListing(slice="3").bounds()


def test_curate_from_http_listing_to_s3_equals_local_run(crawl, tmp_path, s3_bucket, monkeypatch):
    expected = local_run(crawl, tmp_path / "local", "refinedweb")
    out = f"{s3_bucket}/out"
    with FileServer(crawl) as server:
        assert main(["curate", "--recipe", "refinedweb", "--input", f"{server.url}/warc.paths.gz",
                     "--paths-prefix", server.url + "/", "--output", out,
                     "--staging-dir", str(tmp_path / "staging")]) == 0
    assert documents(out) == expected and len(expected) > 20
    stats = read_json(f"{out}/stats.json")
    assert stats["output"]["docs"] == len(expected) and stats["reader"]["skipped"]["warc_revisit"] == 10
    names = [u.rsplit("/", 1)[1] for u in list_files(out)]
    assert {"stats.json", "run.json", "report.html", "job.json"} <= set(names)
    assert not [n for n in names if n.endswith(".tmp")]
    # nothing of the shards is left in the staging folder once uploaded
    assert not list((tmp_path / "staging").rglob("data/*.jsonl.zst"))
    # tokenizer inputs stream the shards from the bucket
    assert list(iter_texts(out, Counter())) == [d[1] for d in expected]
    # the corpus reads back with Hugging Face datasets straight from the bucket
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # the "remote" is 127.0.0.1, not the Hub
    ds = datasets.load_dataset("json", data_files=f"{out}/data/*.jsonl.zst", split="train",
                               storage_options={"client_kwargs": {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}})
    assert sorted(ds["id"]) == sorted(d[0] for d in expected)


def test_curate_from_s3_input_equals_local_run(crawl, tmp_path, s3_bucket):
    expected = local_run(crawl, tmp_path / "local")
    upload_tree(crawl / "crawl", f"{s3_bucket}/crawl")
    run_curation(CurateConfig(recipe="extract", input=[f"{s3_bucket}/crawl/*.warc.gz"], output=str(tmp_path / "o")))
    assert documents(tmp_path / "o") == expected


def test_retries_on_a_flaky_server_give_the_full_output(crawl, tmp_path):
    expected = local_run(crawl, tmp_path / "local")
    with FileServer(crawl, fail_every=2) as server:  # every 2nd request: a 503 or a connection cut mid-body
        stats = run_curation(CurateConfig(recipe="extract", input=[f"{server.url}/crawl/*.warc.gz"],
                                          output=str(tmp_path / "o")))
        assert server.faults >= 2
    assert documents(tmp_path / "o") == expected
    assert stats["reader"]["io_retries"] >= server.faults - 1  # (HEAD probes are never failed)
    assert "remote_read_failed" not in stats["reader"]["skipped"]


def test_bad_remote_files_are_counted_skips(crawl, tmp_path):
    """A truncated file, a file that keeps failing and a listed file that is absent: each a counted skip,
    and every document of every good file survives."""
    names = sorted(p.name for p in (crawl / "crawl").iterdir())
    good = names[2:]
    expected = local_run(crawl, tmp_path / "local")
    expected = [d for d in expected if d[2]["source"] in good]
    data = (crawl / "crawl" / names[0]).read_bytes()
    (crawl / "crawl" / names[0]).write_bytes(data[: len(data) * 2 // 3])  # truncated mid-member
    with gzip.open(crawl / "warc.paths.gz", "wt") as f:
        f.write("".join(f"crawl/{n}\n" for n in [*names, "absent.warc.gz"]))
    with FileServer(crawl, broken=(f"crawl/{names[1]}",)) as server:
        stats = run_curation(CurateConfig(recipe="extract", input=[f"{server.url}/warc.paths.gz"],
                                          paths_prefix=server.url, output=str(tmp_path / "o")))
    skipped = stats["reader"]["skipped"]
    assert skipped["gzip_truncated"] == 1 and skipped["remote_read_failed"] == 1
    assert skipped["remote_not_found"] == 1
    docs = documents(tmp_path / "o")
    assert [d for d in docs if d[2]["source"] in good] == expected
    assert {d[2]["source"] for d in docs} <= {names[0], *good}  # the truncated file keeps its first records


@pytest.mark.slow
def test_kill_9_mid_run_to_s3_resumes_to_the_same_output(crawl, tmp_path, s3_bucket):
    expected = local_run(crawl, tmp_path / "local")
    out = f"{s3_bucket}/killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    with FileServer(crawl) as server:
        # one file per task, each served slowly enough (a retried fault every other request) to kill midway
        server.set_fail_every(2)
        command = [sys.executable, "-m", "roots.cli", "curate", "--recipe", "extract", "--input",
                   f"{server.url}/warc.paths.gz", "--paths-prefix", server.url, "--output", out,
                   "--staging-dir", str(tmp_path / "staging")]
        env["ROOTS_IO_BACKOFF"] = "0.3"
        proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        markers = f"{out}/work/markers/segment_0"
        deadline = time.time() + 120
        while time.time() < deadline and len(list_files(f"{markers}/*.json")) < 2:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        done = len(list_files(f"{markers}/*.json"))
        assert 2 <= done < 6, "the run must be killed midway for this test to mean anything"
        assert not [u for u in list_files(out) if u.endswith("/stats.json")]
        env["ROOTS_IO_BACKOFF"] = "0.01"
        subprocess.run(command, env=env, check=True, capture_output=True)
    assert documents(out) == expected
