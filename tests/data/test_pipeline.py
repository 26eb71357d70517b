import gzip
import hashlib
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
from roots.common.io import read_json, write_json
from roots.data import registry
from roots.data.base import Step
from roots.data.corpus import iter_corpus, iter_shard
from roots.data.pipeline import CurateConfig, run_curation

REPO = Path(__file__).resolve().parents[2]


def output_ids(out: Path) -> list[str]:
    return [d.id for d in iter_corpus(out)]


def test_curate_warc_folder_with_two_workers(tmp_path, shared_data):
    out = tmp_path / "out"
    assert main(["curate", "--recipe", "extract", "--input", str(shared_data / "web/warc"),
                 "--output", str(out), "--workers", "2"]) == 0
    stats = read_json(out / "stats.json")
    docs = list(iter_corpus(out))
    assert stats["inputs"] == 8 and stats["output"]["docs"] == len(docs) > 30
    assert all(d.metadata["lang_score"] >= 0.65 and d.metadata["lang"] for d in docs)
    assert all(d.metadata["url"] and d.metadata["source"].endswith((".warc.gz", ".warc", ".wet.gz")) for d in docs)
    assert [s["name"] for s in stats["steps"]] == ["extract", "langid"]
    extract, langid = stats["steps"]
    assert extract["docs_in"] == stats["reader"]["docs"] and langid["docs_in"] == extract["docs_out"]
    assert langid["docs_out"] == len(docs)
    assert stats["reader"]["skipped"]["warc_revisit"] == 10
    assert sum(langid["dropped"].values()) == langid["docs_in"] - langid["docs_out"]
    assert len({d.id for d in docs}) == len(docs)
    run = read_json(out / "run.json")
    assert run["kind"] == "curate" and run["recipe"]["name"] == "extract" and len(run["inputs"]) == 8


def test_missing_input_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["curate", "--recipe", "extract", "--input", str(tmp_path / "nowhere.warc.gz"),
                 "--output", str(out)])
    assert code == 2 and "input not found" in capsys.readouterr().err
    assert not out.exists()


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"{path.stem}-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


ENGLISH = "The committee met on Tuesday to discuss the new library opening hours and the budget for next year."
FRENCH = "Le comité s'est réuni mardi pour discuter des nouveaux horaires de la bibliothèque et du budget."


def test_parquet_output_rejects_and_a_different_job_in_the_same_folder(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [ENGLISH, FRENCH, "   "])
    recipe = tmp_path / "en.yaml"
    recipe.write_text("name: en\ndescription: English only\nsteps:\n  - langid: {languages: [en]}\n")
    config = CurateConfig(recipe=str(recipe), input=[str(tmp_path / "a.jsonl")], output=tmp_path / "out",
                          format="parquet", write_rejects=True)
    stats = run_curation(config)
    assert stats["output"]["shards"] == ["data/00000-0000.parquet"]
    assert [d.metadata["lang"] for d in iter_corpus(tmp_path / "out")] == ["en"]
    rejects = [d for p in (tmp_path / "out/rejects/langid").iterdir() for d in iter_shard(p)]
    assert [(d.id, d.metadata["reject_reason"]) for d in rejects] == [("a-1", "lang_not_kept")]
    assert stats["reader"]["skipped"] == {"empty_document": 1}
    config.recipe = "extract"
    with pytest.raises(UserError, match="different curate run"):
        run_curation(config)


@dataclass
class DropRepeatedTexts(Step):
    """A corpus-wide toy step: keep the first document of each exact text (first = smallest id)."""

    name: ClassVar[str] = "drop_repeated"
    needs_corpus: ClassVar[bool] = True

    def prepare(self, shards, work_dir, workers, executor=None):
        first: dict[str, str] = {}
        for shard in shards:
            for doc in iter_shard(shard):
                key = hashlib.sha1(doc.text.encode()).hexdigest()
                first[key] = min(first.get(key, doc.id), doc.id)
        write_json(Path(work_dir) / "keep.json", sorted(first.values()))
        self.keep_path = str(Path(work_dir) / "keep.json")

    def setup(self):
        self.keep = set(read_json(self.keep_path)) if hasattr(self, "keep_path") else set()

    def process(self, doc):
        return None if doc.id in self.keep else "repeated_text"


def test_corpus_step_splits_the_recipe_into_segments(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.STEPS, "drop_repeated", f"{__name__}:DropRepeatedTexts")
    write_jsonl(tmp_path / "a.jsonl", [ENGLISH, FRENCH])
    write_jsonl(tmp_path / "b.jsonl", [ENGLISH, ENGLISH + " Again."])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nsteps:\n  - langid: {min_score: 0.5}\n  - drop_repeated\n  - length: {min_words: 5}\n")
    out = tmp_path / "out"
    stats = run_curation(CurateConfig(recipe=str(recipe), input=[str(tmp_path)], output=out))
    assert sorted(output_ids(out)) == ["a-0", "a-1", "b-1"]
    assert [s["name"] for s in stats["steps"]] == ["langid", "drop_repeated", "length"]
    assert stats["steps"][1]["dropped"] == {"repeated_text": 1}
    assert (out / "stages/0").is_dir() and (out / "work/drop_repeated/keep.json").exists()


def make_html_inputs(shared_data: Path, folder: Path, n_files: int = 12) -> Path:
    """Split real pages into several JSONL inputs (one task each)."""
    folder.mkdir()
    path = shared_data / "web/html_extraction/scrapinghub_article_extraction_benchmark.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    for k in range(n_files):
        part = records[k::n_files]
        (folder / f"part{k:02d}.jsonl").write_text("".join(
            json.dumps({"id": r["id"], "html": r["html"], "url": r["url"]}) + "\n" for r in part))
    return folder


def curate_command(inputs: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "roots.cli", "curate", "--recipe", "extract", "--input", str(inputs),
            "--output", str(out), "--workers", "2", "--reader.html-field", "html"]


@pytest.mark.slow
def test_rerun_after_kill_9_gives_the_same_documents(tmp_path, shared_data):
    inputs = make_html_inputs(shared_data, tmp_path / "inputs")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    clean = tmp_path / "clean"
    subprocess.run(curate_command(inputs, clean), env=env, check=True, capture_output=True)

    out = tmp_path / "killed"
    proc = subprocess.Popen(curate_command(inputs, out), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = out / "work/markers/segment_0"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(markers.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-run
    proc.wait()
    done = len(list(markers.glob("*.json")))
    assert 2 <= done < 12, "the run must be killed midway for this test to mean anything"
    assert not (out / "stats.json").exists()

    subprocess.run(curate_command(inputs, out), env=env, check=True, capture_output=True)
    ids = output_ids(out)
    assert len(ids) == len(set(ids)), "no document written twice"
    assert Counter(ids) == Counter(output_ids(clean)), "no document lost"
    stats, clean_stats = read_json(out / "stats.json"), read_json(clean / "stats.json")
    assert stats["reader"]["docs"] == clean_stats["reader"]["docs"] == 181
    assert stats["output"]["docs"] == len(ids)
    assert not list(out.rglob(".*.tmp"))


def test_rerun_redoes_an_unfinished_task_from_scratch(tmp_path):
    for name in "ab":
        write_jsonl(tmp_path / f"{name}.jsonl", [ENGLISH, FRENCH])
    config = CurateConfig(recipe="extract", input=[str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")],
                          output=tmp_path / "out")
    run_curation(config)
    clean = sorted(output_ids(tmp_path / "out"))
    # as if killed while writing task 00001: no marker, a stale shard and a temporary file left behind
    (tmp_path / "out/work/markers/segment_0/00001.json").unlink()
    stale = tmp_path / "out/data/00001-0007.jsonl.zst"
    stale.write_bytes((tmp_path / "out/data/00001-0000.jsonl.zst").read_bytes())
    (tmp_path / "out/data/.00001-0008.jsonl.zst.tmp").write_bytes(b"partial")
    stats = run_curation(config)
    assert not stale.exists() and not list((tmp_path / "out/data").glob(".*.tmp"))
    assert sorted(output_ids(tmp_path / "out")) == clean and stats["output"]["docs"] == len(clean)


def test_limit_reads_at_most_n_documents_per_input(tmp_path):
    for name in "ab":
        write_jsonl(tmp_path / f"{name}.jsonl", [ENGLISH, ENGLISH + " Twice.", ENGLISH + " Thrice."])
    config = CurateConfig(recipe="extract", input=[str(tmp_path)], output=tmp_path / "out", limit=2)
    run_curation(config)
    stats = run_curation(config)  # the output folder sits inside the input folder: never read back
    assert stats["inputs"] == 2 and stats["reader"]["docs"] == 4 and sorted(output_ids(tmp_path / "out")) == ["a-0", "a-1", "b-0", "b-1"]


def test_curate_again_on_its_own_jsonl_zst_output_gives_the_same_documents(tmp_path):
    texts = [f"Document {i}: " + "some words about rivers and mountains " * 5 for i in range(40)]
    texts += ["这是一篇关于河流和山脉的中文文章。" * 5, texts[3]]  # Chinese, and an exact copy
    write_jsonl(tmp_path / "in.jsonl", texts)
    (tmp_path / "recipe.yaml").write_text("name: again\nsteps:\n  - exact_dedup: {}\n")
    first, second = tmp_path / "first", tmp_path / "second"
    run_curation(CurateConfig(recipe=str(tmp_path / "recipe.yaml"), input=[str(tmp_path / "in.jsonl")], output=first))
    assert sorted(p.name for p in (first / "data").iterdir()) == ["00000-0000.jsonl.zst"]
    stats = run_curation(CurateConfig(recipe=str(tmp_path / "recipe.yaml"), input=[str(first / "data")],
                                      output=second))
    assert stats["reader"]["skipped"] == {}

    def docs(out):
        return [(d.id, d.text, {k: v for k, v in d.metadata.items() if k != "source"}) for d in iter_corpus(out)]

    assert docs(second) == docs(first) and len(docs(first)) == 41


def test_random_bytes_inputs_do_not_stop_a_run(tmp_path, capsys):
    import random

    write_jsonl(tmp_path / "good.jsonl", ["A good document with enough words in it to keep."] * 1)
    rng = random.Random(1)
    for name in ("junk.txt.gz", "junk.parquet", "junk.jsonl.zst"):
        (tmp_path / name).write_bytes(rng.randbytes(4000))
    (tmp_path / "recipe.yaml").write_text("name: plain\nsteps:\n  - exact_dedup: {}\n")
    out = tmp_path / "out"
    assert main(["curate", "--recipe", str(tmp_path / "recipe.yaml"), "--input", str(tmp_path), "--output",
                 str(out), "--workers", "2"]) == 0
    stats = read_json(out / "stats.json")
    assert output_ids(out) == ["good-0"]
    assert stats["reader"]["skipped"] == {"gzip_corrupt": 1, "unreadable_file": 1, "zstd_corrupt": 1}
