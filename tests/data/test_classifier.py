from __future__ import annotations

import json
import random

import numpy as np
import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.common.io import read_json
from roots.data.classifier import FeatureConfig, TextClassifier, binary_report, fit
from roots.data.corpus import iter_corpus
from roots.data.pipeline import CurateConfig, run_curation

_PROSE = ("the river city history people built bridge across water during century trade grew market families "
          "moved north because harbour winter summer council decided new school opened library")
_JUNK = ("click here login subscribe cart price free shipping cookie policy menu home share follow us sale "
         "buy now best deals offer terms privacy sign up newsletter")
PROSE, JUNK = _PROSE.split(" "), _JUNK.split(" ")
ZH_PROSE = list("这座城市的历史很长人们在河上修建了桥梁贸易和市场逐渐发展")
ZH_JUNK = list("点击登录购物车免费包邮隐私政策首页分享关注优惠立即购买")


def _docs(words, n, rng, sep=" ", length=(30, 60)):
    return [sep.join(rng.choice(words) for _ in range(rng.randint(*length))) + "." for _ in range(n)]


def _write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"id": f"{path.stem}-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def test_fit_separates_classes_and_reports_held_out_metrics():
    rng = random.Random(0)
    # each class borrows some words from the other, so the task is not a lookup of one word
    pos = _docs(PROSE + JUNK[:4], 120, rng)
    neg = _docs(JUNK + PROSE[:4], 120, rng)
    clf = fit(pos, neg, FeatureConfig(n_features=2**16), holdout=0.25, epochs=5)
    report = clf.meta["report"]
    assert report["train_docs"] == 180 and report["heldout_docs"] == 60
    assert report["heldout"]["f1"] > 0.95 and report["heldout"]["docs"] == 60
    s = clf.scores(["the river city history bridge market.", "click here free shipping buy now cart."])
    assert s[0] > 0.5 > s[1]


def test_chinese_is_classified_through_character_ngrams():
    rng = random.Random(1)
    pos = _docs(ZH_PROSE, 80, rng, sep="")
    neg = _docs(ZH_JUNK, 80, rng, sep="")
    clf = fit(pos, neg, FeatureConfig(n_features=2**16), holdout=0.25, epochs=5)
    assert clf.meta["report"]["heldout"]["f1"] > 0.95


def test_save_load_round_trip_without_pickle(tmp_path):
    rng = random.Random(2)
    clf = fit(_docs(PROSE, 30, rng), _docs(JUNK, 30, rng), FeatureConfig(n_features=2**12), holdout=0.0)
    clf.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    texts = _docs(PROSE + JUNK, 10, rng)
    np.testing.assert_array_equal(back.scores(texts), clf.scores(texts))
    meta = read_json(tmp_path / "m/meta.json")
    assert meta["format"] == "roots.text_classifier" and meta["features"]["n_features"] == 2**12
    with np.load(tmp_path / "m/model.npz", allow_pickle=False) as z:  # plain arrays only
        assert z["weights"].dtype == np.float32
    (tmp_path / "m/model.npz").unlink()
    with pytest.raises(UserError, match="not a roots classifier"):
        TextClassifier.load(tmp_path / "m")


def test_bad_settings_are_one_line_errors():
    with pytest.raises(UserError, match="power of two"):
        FeatureConfig(n_features=1000)
    with pytest.raises(UserError, match="both classes"):
        fit(["a text"], [], FeatureConfig())
    r = binary_report(np.array([True, True, False, False]), np.array([True, False, True, False]))
    assert r == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.5, "docs": 4}


def test_cli_train_then_curate_by_threshold_and_top_fraction(tmp_path, capsys):
    rng = random.Random(3)
    pos = _write_jsonl(tmp_path / "pos.jsonl", _docs(PROSE, 60, rng))
    neg = _write_jsonl(tmp_path / "neg.jsonl", _docs(JUNK, 60, rng))
    assert main(["classify", "train", "--positives", str(pos), "--negatives", str(neg), "--output",
                 str(tmp_path / "clf"), "--holdout", "0.2", "--features.n-features", "65536"]) == 0
    assert "F1 1.000" in capsys.readouterr().out
    mixed = _docs(PROSE, 20, rng) + _docs(JUNK, 20, rng)
    rng.shuffle(mixed)
    lines = [json.dumps({"id": f"m-{i}", "text": t}) for i, t in enumerate(mixed)]
    lines.insert(5, "{not json")  # a bad record next to good ones: counted, the rest survive
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    for mode, kept in (("threshold: 0.5", 20), ("top_fraction: 0.25", 10)):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(f"name: q\nsteps:\n  - quality_classifier: {{model: {tmp_path / 'clf'}, {mode}}}\n")
        out = tmp_path / f"out-{mode.split(':')[0]}"
        stats = run_curation(CurateConfig(recipe=str(recipe), input=[str(tmp_path / "mixed.jsonl")], output=out))
        docs = list(iter_corpus(out))
        assert len(docs) == kept and stats["reader"]["skipped"] == {"bad_json_line": 1}
        assert all(any(w in d.text for w in PROSE) and d.metadata["quality_score"] >= 0.5 for d in docs)
        step = stats["steps"][-1]
        assert step["docs_in"] == 40 and sum(step["dropped"].values()) == 40 - kept
    (tmp_path / "none.yaml").write_text("name: n\nsteps:\n  - quality_classifier: {}\n")
    with pytest.raises(UserError, match=r"quality_classifier\.model"):
        run_curation(CurateConfig(recipe=str(tmp_path / "none.yaml"), input=[str(pos)], output=tmp_path / "x"))


def test_step_scores_in_batches_and_directly_alike(tmp_path):
    from collections import Counter

    from roots.data.base import StepStats
    from roots.data.classifier import QualityClassifier
    from roots.data.document import Document

    rng = random.Random(4)
    fit(_docs(PROSE, 30, rng), _docs(JUNK, 30, rng), FeatureConfig(n_features=2**12), holdout=0.0).save(
        tmp_path / "m")
    texts = _docs(PROSE, 300, rng) + _docs(JUNK, 300, rng)  # more than one batch
    step = QualityClassifier(model=str(tmp_path / "m"))
    stats = StepStats("quality_classifier")
    kept = list(step.run((Document(text=t, id=str(i)) for i, t in enumerate(texts)), stats))
    assert len(kept) == 300 and stats.dropped == Counter({"quality_classifier_low_score": 300})
    direct = QualityClassifier(model=str(tmp_path / "m"))
    for doc in kept[:5]:
        again = Document(text=doc.text, id=doc.id)
        assert direct.process(again) is None
        assert again.metadata["quality_score"] == doc.metadata["quality_score"]
    assert step._pending == {}
