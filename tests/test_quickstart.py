import json
from html.parser import HTMLParser
from pathlib import Path

from roots.cli import main
from roots.common.io import read_json
from roots.data.corpus import iter_corpus
from roots.workflows.quickstart import build_corpus

TINY = ["--workers", "1", "--max-modules", "30", "--vocab-size", "512", "--model", "gpt2-nano",
        "--block-size", "32", "--batch-size", "4", "--train-steps", "6", "--eval-every", "3",
        "--sample-tokens", "8"]


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.headings, self._in_h2 = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data)
            self._in_h2 = False


def test_corpus_comes_from_python_itself(tmp_path):
    paths = build_corpus(tmp_path, n_files=3, max_modules=20)
    records = [json.loads(line) for p in paths for line in p.open()]
    ids = [r["id"] for r in records]
    assert len(paths) == 3 and len(ids) == len(set(ids))
    assert "pydoc/formatstrings" in ids and sum(i.startswith("stdlib/") for i in ids) == 20
    assert all(r["text"].strip() for r in records)


def test_quickstart_runs_every_stage_offline(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--output", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    for stage in ("corpus", "curate", "tokenizer", "tokenize", "train", "evaluate", "generate", "report"):
        assert f"[{stage}]" in printed
    assert printed.splitlines()[-1] == f"serve the model with:  roots serve --model {out / 'run'}"

    docs = list(iter_corpus(out / "curated"))
    stats = read_json(out / "curated/stats.json")
    assert 50 < len(docs) == stats["output"]["docs"] < stats["reader"]["docs"]
    assert all(d.metadata["lang"] == "en" for d in docs)
    assert read_json(out / "shards/meta.json")["splits"]["val"]["tokens"] > 0
    assert (out / "run/checkpoints/last").exists()
    report = read_json(out / "eval/REPORT.json")
    assert 0 < report["metrics"]["bits_per_byte"] < 20 and report["units"]["bits_per_byte"] == "bits/byte"
    assert read_json(out / "run.json")["kind"] == "quickstart"

    # the report renders: every section, every image exists
    page = _Images()
    page.feed((out / "report.html").read_text())
    assert {"Training", "Samples", "Attention"} <= set(page.headings)
    assert len(page.srcs) >= 3
    for src in page.srcs:
        assert (out / src).is_file() and (out / src).stat().st_size > 1000, src

    from roots.train.metrics import read_metrics
    from roots.workflows.figures import loss_curves

    rows = read_metrics(out / "run/metrics.jsonl")
    assert sum("train_loss" in r for r in rows) >= 3 and any("val_loss" in r for r in rows)  # both curves drawn
    assert loss_curves({"m": rows}, tmp_path / "loss.png").stat().st_size > 5000

    # a second run resumes: same corpus, training already done
    assert main(["quickstart", "--output", str(out), *TINY]) == 0
    assert [d.id for d in iter_corpus(out / "curated")] == [d.id for d in docs]
    assert Path(out / "report.html").exists()
