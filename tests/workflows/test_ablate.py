from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.common.io import read_json
from roots.workflows.ablate import AblateConfig, Arm, compare, parse_arms, resolve_arms


class _Srcs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def test_arms_are_put_back_together_after_comma_splitting():
    # what the CLI hands over for: --arm strict=refinedweb:langid.min_score=0.8,langid.languages=en,fr
    #                                  --arm plain=roots
    items = ["strict=refinedweb:langid.min_score=0.8", "langid.languages=en", "fr", "plain=roots"]
    assert parse_arms(items) == [Arm("strict", "refinedweb", ["langid.min_score=0.8", "langid.languages=en,fr"]),
                                 Arm("plain", "roots", [])]
    for bad in (["langid.min_score=0.8"], ["=refinedweb"], ["a=refinedweb", "oops"]):
        with pytest.raises(UserError, match="--arm"):
            parse_arms(bad)


def test_arm_mistakes_fail_before_any_work():
    def cfg(**kw):
        return AblateConfig(input=["x"], eval=["y"], **kw)

    assert [a.name for a in resolve_arms(cfg())] == ["refinedweb", "massivetext", "roots"]
    assert [a.name for a in resolve_arms(cfg(recipes=["c4"], arm=["c4_loose=c4:c4.min_words_per_line=1"]))] == [
        "c4", "c4_loose"]
    with pytest.raises(UserError, match="unique"):
        resolve_arms(cfg(recipes=["c4"], arm=["c4=c4"]))
    with pytest.raises(UserError, match="no step 'nope'"):
        resolve_arms(cfg(arm=["a=c4:nope.x=1"]))
    with pytest.raises(UserError, match="unknown field"):
        resolve_arms(cfg(arm=["a=c4:c4.no_such_param=1"]))
    with pytest.raises(UserError, match="--baseline"):
        resolve_arms(cfg(recipes=["c4"], baseline="other"))
    with pytest.raises(UserError, match="not a roots tokenizer"):
        resolve_arms(cfg(tokenizer="/nonexistent/tok"))


def _rows(values: dict[str, list[float]]) -> list[dict]:
    return [{"arm": a, "runs": [{"bits_per_byte": {"ev": v}} for v in vs]} for a, vs in values.items()]


def test_a_winner_is_named_only_when_the_paired_intervals_exclude_zero():
    clear = compare(_rows({"none": [4.40, 4.43, 4.41], "rules": [4.20, 4.22, 4.205]}), ["ev"], "none")["ev"]
    assert clear["best"] == "rules" and clear["vs_baseline"]["rules"]["verdict"] == "better"
    assert clear["vs_baseline"]["rules"]["high"] < 0
    # a lower mean from seed noise: same leader, no winner
    noisy = compare(_rows({"none": [4.40, 4.20, 4.31], "rules": [4.25, 4.38, 4.27]}), ["ev"], "none")["ev"]
    assert noisy["leader"] == "rules" and noisy["best"] is None
    assert noisy["vs_baseline"]["rules"]["verdict"] == "not distinguishable"
    # one seed: no intervals, so never a winner however large the gap
    single = compare(_rows({"none": [4.4], "rules": [3.0]}), ["ev"], "none")["ev"]
    assert single["best"] is None and single["vs_baseline"]["rules"]["low"] is None


def test_no_winner_is_named_when_the_arms_memorised_their_data():
    from roots.workflows.ablate import _verdict_line

    values = {"none": [4.40, 4.43, 4.41], "rules": [4.20, 4.22, 4.205]}
    for epochs, named in ((2.0, True), (15.9, False)):
        rows = [{**r, "epochs": epochs} for r in _rows(values)]
        c = compare(rows, ["ev"], "none")["ev"]
        assert c["leader"] == "rules" and c["vs_baseline"]["rules"]["verdict"] == "better"
        assert (c["best"] == "rules") is named and (c["withheld"] is None) is named
    assert "15.9 epochs" in c["withheld"] and "no winner is named" in _verdict_line("ev", c, "none")


def test_ablation_reports_intervals_per_arm_and_eval(shared_data, tmp_path, capsys):
    out = tmp_path / "abl"
    wikitext = shared_data / "lm/wikitext-2/valid.txt.gz"
    shakespeare = shared_data / "lm/tinyshakespeare_input.txt.gz"
    code = main(["ablate", "--input", str(shared_data / "web/warc/dolma_sample-0001.warc.gz"),
                 "--eval", str(wikitext), "--eval", str(shakespeare), "--output", str(out),
                 "--recipes", "c4", "--arm", "c4_loose=c4:c4.min_words_per_line=1,c4.min_sentences=1",
                 "--seeds", "2", "--workers", "1", "--model", "gpt2-nano",
                 "--block-size", "32", "--batch-size", "4", "--train-steps", "3", "--vocab-size", "512",
                 "--eval-max-bytes", "3000"])
    assert code == 0
    result = read_json(out / "ablation.json")
    assert [r["arm"] for r in result["results"]] == ["c4", "c4_loose"] and result["baseline"] == "c4"
    assert result["results"][1]["overrides"] == ["c4.min_words_per_line=1", "c4.min_sentences=1"]
    assert result["results"][1]["docs_kept"] >= result["results"][0]["docs_kept"]
    for row in result["results"]:
        assert [r["seed"] for r in row["runs"]] == [1337, 1338]
        for run in row["runs"]:
            assert set(run["bits_per_byte"]) == {wikitext.name, shakespeare.name}
            assert all(0 < v < 20 for v in run["bits_per_byte"].values())
            report = read_json(Path(run["eval"]) / wikitext.name / "REPORT.json")
            assert report["settings"]["model"].startswith(run["model"])
        assert Path(row["links"]["data"]).is_dir()
        # one tokenizer for every arm (trained on all arms' data), so arms differ only in their data
        assert row["links"]["tokenizer"] == str(out / "tokenizer") and (out / "tokenizer" / "tokenizer.json").is_file()
    for ev in (wikitext.name, shakespeare.name):
        c = result["comparisons"][ev]
        assert c["arms"]["c4"]["low"] <= c["arms"]["c4"]["mean"] <= c["arms"]["c4"]["high"]
        assert c["vs_baseline"]["c4_loose"]["verdict"] in ("better", "worse", "not distinguishable")
    table = (out / "ablation.md").read_text()
    assert f"{wikitext.name} bits/byte" in table and f"{shakespeare.name} bits/byte" in table
    assert table.count("| c4 |") == 1 and "Δ vs c4" in table
    page = _Srcs()
    page.feed((out / "report.html").read_text())
    assert len(page.srcs) >= 4 and all((out / s).is_file() for s in page.srcs)
    printed = capsys.readouterr().out
    assert "2 arms x 2 seeds" in printed


def test_memorising_arms_are_warned_about():
    from roots.workflows.ablate import _warnings

    rows = [{"arm": "small", "train_tokens": 20_000, "epochs": 30.7}, {"arm": "big", "train_tokens": 10**6,
                                                                       "epochs": 0.6},
            {"arm": "mid", "train_tokens": 300_000, "epochs": 2.0}]
    warnings = _warnings(rows, AblateConfig(input=["x"], eval=["y"], seeds=1), 614_400)
    assert any("one seed" in w for w in warnings)
    assert [w for w in warnings if "memorise" in w] == [w for w in warnings if w.startswith("small:")]
    small = next(w for w in warnings if w.startswith("small:"))
    assert "614,400" in small and "30.7 epochs" in small and "no winner" in small
    assert any(w.startswith("mid:") and "2.0 times" in w for w in warnings)
    assert not any(w.startswith("big:") for w in warnings)


def test_eval_text_is_capped_at_max_bytes_even_without_blank_lines(tmp_path):
    from roots.workflows.ablate import _eval_texts

    path = tmp_path / "wiki.txt"
    path.write_text(" = Title = \n \n" + "".join(f"line {i} of a long article .\n" for i in range(2000)))
    texts = _eval_texts(str(path), 1000)
    assert texts[0] == " = Title = " and len(texts) == 2
    assert sum(len(t.encode()) for t in texts) <= 1000 and texts[1].startswith("line 0 of")
    assert texts[1].endswith(" .")  # cut at a line break, not mid-word
    assert len(_eval_texts(str(path), 0)[1]) > 50_000  # 0: everything


def test_tokenizer_choice_and_resume_with_another_tokenizer_is_refused(tmp_path):
    from roots.tokenizer.tokenizer import Tokenizer
    from roots.workflows.ablate import _pin_tokenizer, _shared_tokenizer

    def cfg(tok):
        return AblateConfig(input=["x"], eval=["y"], tokenizer=tok)

    assert _shared_tokenizer(cfg("per-arm"), tmp_path, ["a"]) is None
    with pytest.raises(UserError, match="not a roots tokenizer"):
        _shared_tokenizer(cfg(str(tmp_path)), tmp_path, ["a"])
    texts = ["the cat sat on the mat", "a dog ran in the park", "一只猫坐在垫子上"] * 20
    for i, vocab in enumerate((300, 320)):
        Tokenizer.train(texts, kind="bpe", vocab_size=vocab).save(tmp_path / f"tok{i}")
    assert _shared_tokenizer(cfg(str(tmp_path / "tok0")), tmp_path, ["a"]) == tmp_path / "tok0"
    arm = tmp_path / "arm"
    arm.mkdir()
    _pin_tokenizer(arm, tmp_path / "tok0")
    _pin_tokenizer(arm, tmp_path / "tok0")  # the same tokenizer: resumes
    with pytest.raises(UserError, match="another tokenizer"):
        _pin_tokenizer(arm, tmp_path / "tok1")
    # an output of an older roots (no pin): its shards record the tokenizer the models were trained with
    old = tmp_path / "old_arm"
    (old / "shards").mkdir(parents=True)
    (old / "shards" / "meta.json").write_text('{"tokenizer_sha256": "0123"}')
    with pytest.raises(UserError, match="another tokenizer"):
        _pin_tokenizer(old, tmp_path / "tok0")
