"""BLEU / chrF reproduce the official WMT22 scores (sacrebleu defaults) for every system in ../shared."""

from __future__ import annotations

import csv

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.eval.mt import mt_scores
from roots.eval.textfiles import read_lines


def _official(shared_data):
    root = shared_data / "eval/mt/wmt22"
    rows = {}
    with open(root / "automatic-scores.en-de_de-en.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["metric"].split("-")[0] in ("bleu", "chrf"):
                rows[(row["pair"], row["system"], row["metric"])] = float(row["score"])
    return root, rows


def test_wmt22_official_scores_every_system(shared_data):
    """Every system, BLEU and chrF, against ref A, ref B and both (108 official numbers)."""
    from sacrebleu.metrics import BLEU, CHRF

    root, official = _official(shared_data)
    systems = sorted({(pair, system) for pair, system, _ in official})
    assert len(systems) == 18
    checked = 0
    for pair in ("en-de", "de-en"):
        tgt = pair.split("-")[1]
        refs = {r: read_lines(root / f"references/generaltest2022.{pair}.ref.{r}.{tgt}.gz") for r in "AB"}
        for which, ref_sets in (("A", [refs["A"]]), ("B", [refs["B"]]), ("all", [refs["A"], refs["B"]])):
            # metrics built with the references cache their n-grams across systems
            metrics = {"bleu": BLEU(references=ref_sets), "chrf": CHRF(references=ref_sets)}
            for system in [s for p, s in systems if p == pair]:
                hyp = read_lines(root / f"system-outputs/generaltest2022.{pair}.hyp.{system}.{tgt}.gz")
                for name, metric in metrics.items():
                    expected = official[(pair, system, f"{name}-{which}")]
                    assert metric.corpus_score(hyp, None).score == pytest.approx(expected, abs=1e-6)
                    checked += 1
    assert checked == 108
    # and roots' own entry point gives the same number as the cached metric
    hyp = read_lines(root / "system-outputs/generaltest2022.en-de.hyp.Online-B.de.gz")
    ref = read_lines(root / "references/generaltest2022.en-de.ref.A.de.gz")
    assert mt_scores(hyp, [ref], ["bleu"])["bleu"]["score"] == pytest.approx(official[("en-de", "Online-B", "bleu-A")])


def test_cli_bleu_prints_signature(shared_data, capsys, tmp_path):
    root = shared_data / "eval/mt/wmt22"
    code = main(["eval", "bleu", "--hyp", str(root / "system-outputs/generaltest2022.en-de.hyp.Online-B.de.gz"),
                 "--ref", str(root / "references/generaltest2022.en-de.ref.A.de.gz"), "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "BLEU  38.37" in out and "tok:13a" in out
    assert (tmp_path / "REPORT.json").exists() and (tmp_path / "REPORT.md").exists()


def test_misaligned_files_are_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="line-aligned"):
        mt_scores(["a", "b"], [["a"]])


def test_missing_file(capsys):
    assert main(["eval", "chrf", "--hyp", "/nonexistent", "--ref", "/nonexistent"]) == 2
    assert "file not found" in capsys.readouterr().err
