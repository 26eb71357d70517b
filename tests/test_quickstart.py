import json

from roots.cli import main
from roots.common.io import read_json
from roots.data.corpus import iter_corpus
from roots.workflows.quickstart import build_corpus


def test_corpus_comes_from_python_itself(tmp_path):
    paths = build_corpus(tmp_path, n_files=3, max_modules=20)
    records = [json.loads(line) for p in paths for line in p.open()]
    ids = [r["id"] for r in records]
    assert len(paths) == 3 and len(ids) == len(set(ids))
    assert "pydoc/formatstrings" in ids and sum(i.startswith("stdlib/") for i in ids) == 20
    assert all(r["text"].strip() for r in records)


def test_quickstart_runs_offline_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--output", str(out), "--workers", "1", "--max-modules", "30"]) == 0
    printed = capsys.readouterr().out
    assert "[corpus]" in printed and "[curate]" in printed and str(out) in printed.splitlines()[-1]
    docs = list(iter_corpus(out / "curated"))
    stats = read_json(out / "curated/stats.json")
    assert 50 < len(docs) == stats["output"]["docs"] < stats["reader"]["docs"]
    assert all(d.metadata["lang"] == "en" for d in docs)
    assert read_json(out / "run.json")["kind"] == "quickstart"
    # a second run resumes: same corpus, nothing redone, same result
    assert main(["quickstart", "--output", str(out), "--workers", "1", "--max-modules", "30"]) == 0
    assert [d.id for d in iter_corpus(out / "curated")] == [d.id for d in docs]
