"""ROUGE reproduces ROUGE-1.5.5 reference vectors (../shared/data/eval/rouge)."""

from __future__ import annotations

import json

import pytest

from roots.cli import main
from roots.eval.rouge import UnicodeTokenizer, rouge_scores


def test_reference_vectors(shared_data):
    cases = json.loads((shared_data / "eval/rouge/rouge_reference_vectors.json").read_text())["cases"]
    assert len(cases) >= 10
    for case in cases:
        got = rouge_scores([case["prediction"]], [[case["target"]]], case["rouge_types"], case["use_stemmer"])
        places = int(case.get("places", 6))
        for rouge_type, expected in case["expected"].items():
            for key, value in expected.items():
                assert got[rouge_type][key] == pytest.approx(value, abs=10 ** -places), (case["id"], rouge_type, key)


def test_unicode_tokenizer_keeps_non_latin_scripts():
    assert UnicodeTokenizer().tokenize("Привет, мир! 你好世界") == ["привет", "мир", "你", "好", "世", "界"]
    # the default rouge-score tokenizer erases these scripts: every score would be 0
    default = rouge_scores(["你好世界"], [["你好"]], ["rouge1"])
    unicode = rouge_scores(["你好世界"], [["你好"]], ["rouge1"], tokenizer="unicode")
    assert default["rouge1"]["fmeasure"] == 0.0
    assert unicode["rouge1"]["recall"] == 1.0 and unicode["rouge1"]["precision"] == 0.5


def test_multiple_references_take_the_best():
    scores = rouge_scores(["the cat sat"], [["a dog ran"], ["the cat sat"]], ["rouge1"])
    assert scores["rouge1"]["fmeasure"] == 1.0


def test_cli_on_realsumm_jsonl(shared_data, capsys, tmp_path):
    path = shared_data / "eval/summarization/realsumm_cnndm_shared.jsonl.gz"
    code = main(["eval", "rouge", "--hyp", str(path), "--ref", str(path),
                 "--hyp-field", "system_summaries.abs/bart/out.summary", "--ref-field", "reference",
                 "--sentences", "tags", "--use-stemmer", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "rougeLsum" in out and "scored 60 summaries" in out
    report = json.loads((tmp_path / "REPORT.json").read_text())
    assert 0.3 < report["metrics"]["rouge1"]["fmeasure"] < 0.6  # BART on CNN/DM: ROUGE-1 F ~0.44
