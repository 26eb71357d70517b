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


ZH_REF = ["我们今天在北京讨论了经济改革的问题。", "这个模型在多个数据集上都超过了以前的方法。", "研究人员正在改进训练效率。"]
ZH_HYP = ["今天我们在北京讨论了经济改革问题。", "这个模型在多个数据集上超过了以前的方法。", "研究人员在改进训练的效率。"]


def test_chinese_target_uses_the_zh_tokenizer_as_sacrebleu_cli():
    """`sacrebleu -l en-zh` scores with tokenize=zh; roots does the same from --target-lang or the references."""
    from sacrebleu.metrics import BLEU

    official = BLEU(trg_lang="zh").corpus_score(ZH_HYP, [ZH_REF]).score  # what `sacrebleu -l en-zh` reports
    assert official == pytest.approx(BLEU(tokenize="zh").corpus_score(ZH_HYP, [ZH_REF]).score)
    thirteen_a = BLEU(tokenize="13a").corpus_score(ZH_HYP, [ZH_REF]).score
    assert thirteen_a < official / 2  # 13a sees each clause as one "word"
    given = mt_scores(ZH_HYP, [ZH_REF], ["bleu"], target_lang="zh")["bleu"]
    detected = mt_scores(ZH_HYP, [ZH_REF], ["bleu"])["bleu"]
    assert given["score"] == detected["score"] == pytest.approx(official)
    assert "tok:zh" in detected["signature"] and detected["target_lang"] == "zh"
    # --tokenize wins; "" turns detection off
    assert mt_scores(ZH_HYP, [ZH_REF], ["bleu"], tokenize="13a")["bleu"]["score"] == pytest.approx(thirteen_a)
    assert mt_scores(ZH_HYP, [ZH_REF], ["bleu"], target_lang="")["bleu"]["score"] == pytest.approx(thirteen_a)


def test_detect_target_lang_from_the_script():
    from roots.eval.mt import detect_target_lang

    assert detect_target_lang([ZH_REF]) == "zh"
    assert detect_target_lang([["私はその人を常に先生と呼んでいた。"]]) == "ja"
    assert detect_target_lang([["나는 학교에 갑니다. 오늘은 날씨가 좋습니다."]]) == "ko"
    assert detect_target_lang([["Der schnelle braune Fuchs springt über den Hund."]]) is None
    assert detect_target_lang([["12 34 56"]]) is None


def test_cli_bleu_chinese_target(tmp_path, capsys):
    hyp, ref = tmp_path / "hyp.zh", tmp_path / "ref.zh"
    hyp.write_text("\n".join(ZH_HYP) + "\n", encoding="utf-8")
    ref.write_text("\n".join(ZH_REF) + "\n", encoding="utf-8")
    assert main(["eval", "bleu", "--hyp", str(hyp), "--ref", str(ref)]) == 0
    out = capsys.readouterr().out
    assert "tok:zh" in out and "detected from the references" in out
    assert main(["eval", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--target-lang", "zh"]) == 0
    assert "tok:zh" in capsys.readouterr().out
