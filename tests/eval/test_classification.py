from __future__ import annotations

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.eval.classification import classification_metrics


def test_hand_worked_example():
    # gold: a a a b b c ; pred: a a b b c c
    m = classification_metrics(list("aaabbc"), list("aabbcc"))
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P 2/2 R 2/3 ; b: P 1/2 R 1/2 ; c: P 1/2 R 1/1
    pc = m["per_class"]
    assert (pc["a"]["precision"], pc["a"]["recall"]) == (1.0, pytest.approx(2 / 3))
    assert pc["b"]["f1"] == pytest.approx(0.5)
    assert pc["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro"]["f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["micro"]["f1"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_mismatched_lengths():
    with pytest.raises(UserError):
        classification_metrics(["a"], ["a", "b"])


def test_cli_writes_plot(tmp_path, capsys):
    (tmp_path / "gold.txt").write_text("x\ny\ny\n")
    (tmp_path / "pred.txt").write_text("x\ny\nx\n")
    out = tmp_path / "rep"
    assert main(["eval", "classification", "--gold", str(tmp_path / "gold.txt"),
                 "--pred", str(tmp_path / "pred.txt"), "--output", str(out)]) == 0
    assert (out / "confusion_matrix.png").stat().st_size > 1000
    assert "accuracy 0.6667" in capsys.readouterr().out
