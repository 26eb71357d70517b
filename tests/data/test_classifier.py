from __future__ import annotations

import json
import math
import random
import re
from collections import Counter

import numpy as np
import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.common.io import read_json
from roots.data.classifier import (
    BOUNDARY,
    CHAR_SEED,
    HASH_BASE,
    LEN_MUL,
    NGRAM_MUL,
    FeatureConfig,
    HashedFeatures,
    TextClassifier,
    binary_report,
    fit,
    word_pattern,
)
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


# ------------------------------------------------------------- the vectorised features against a reference

_M = (1 << 64) - 1
_MIXED = [
    "The quick brown fox -- jumps over the lazy dog; the dog sleeps. THE END, the end!",
    "这座城市的历史很长，人们在河上修建了桥梁。中文abc中 ひらがなとカタカナ",
    "Привет, мир! Ещё раз: привет мир.", "مَرْحَبًا بِالْعَالَم، هذا نص عربي", "नमस्ते दुनिया, यह हिंदी है",
    "emoji 😀😀 🎉 party_time snake_case __init__ x_1 2024-12-03 3.14159 ١٢٣", "", "   \n\t  ", "word",
    "İstanbul ǅemal ß straße", "lone \ud800 surrogate ok", "spam spam spam spam spam spam spam spam",
    "a b a b a b a b c", "中",
]


def _mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _M
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


def _poly(values: list[int]) -> int:
    return sum(v * pow(HASH_BASE, k, 1 << 64) for k, v in enumerate(values)) & _M


def _reference(text: str, c: FeatureConfig) -> tuple[dict[int, float], list[float]]:
    """The feature definition, one word at a time in plain Python: {column: value}, dense columns."""
    text = (text[:c.max_chars] if c.max_chars else text).lower()
    words = re.findall(word_pattern(), text)
    hashes = [_mix(_poly([ord(ch) + 1 for ch in w]) ^ (len(w) * LEN_MUL & _M)) for w in words]
    groups = []
    for n in range(1, c.word_ngrams + 1):
        grams = []
        for i in range(len(hashes) - n + 1):
            g = hashes[i]
            for h in hashes[i + 1:i + n]:
                g = _mix((g * NGRAM_MUL + h) & _M)
            grams.append(g)
        groups.append(grams)
    if c.char_max:
        grams = []
        for w in words:
            if len(w) == 1 and re.fullmatch("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", w):
                continue  # a CJK character is a word of its own, without character n-grams
            marked = [BOUNDARY] + [ord(ch) + 1 for ch in w] + [BOUNDARY]
            for n in range(c.char_min, c.char_max + 1):
                grams += [_mix(_poly(marked[i:i + n]) ^ ((n * LEN_MUL ^ CHAR_SEED) & _M))
                          for i in range(len(marked) - n + 1)]
        groups.append(grams)
    features: dict[int, float] = Counter()
    dense, parts = [], []
    for i, grams in enumerate(groups):
        counts = Counter(g & (c.n_features - 1) for g in grams)
        tf = {k: 1.0 if c.tf == "binary" else 1 + math.log(v) if c.tf == "log" else float(v)
              for k, v in counts.items()}
        if c.norm == "order" and tf:
            norm = math.sqrt(sum(v * v for v in tf.values()))
            tf = {k: v / norm for k, v in tf.items()}
        parts.append(tf)
        if c.repetition and i == c.word_ngrams - 1:
            dense.append(len(counts) / len(grams) if grams else 1.0)
    norm = math.sqrt(sum(v * v for tf in parts for v in tf.values())) if c.norm == "joint" else 1.0
    for tf in parts:
        for k, v in tf.items():
            features[k] += v / norm
    return dict(features), dense


@pytest.mark.parametrize("config", [
    FeatureConfig(n_features=2**10),
    FeatureConfig(n_features=2**6, word_ngrams=3, tf="log", norm="joint", max_chars=40),
    FeatureConfig(n_features=2**12, word_ngrams=1, char_min=2, char_max=4, tf="binary", repetition=False),
    FeatureConfig(n_features=2**8, word_ngrams=0, char_max=3),
])
def test_vectorised_features_equal_the_plain_python_definition(config):
    featurizer = HashedFeatures(config)
    batch = featurizer.transform(_MIXED)
    x = batch.matrix(config.n_features).toarray()
    assert x.shape == (len(_MIXED), config.n_features + featurizer.n_dense)
    for row, text in zip(x, _MIXED):
        features, dense = _reference(text, config)
        hashed = row[:config.n_features]
        assert set(np.flatnonzero(hashed).tolist()) == set(features), text
        np.testing.assert_allclose(hashed[sorted(features)], [features[k] for k in sorted(features)], rtol=1e-12)
        np.testing.assert_allclose(row[config.n_features:], dense, rtol=1e-12)
    # scoring without the matrix gives the matrix product; a batch split in two gives the same features
    w = np.random.default_rng(0).normal(size=x.shape[1])
    np.testing.assert_allclose(batch.logits(w, 0.5), x @ w + 0.5, rtol=1e-9, atol=1e-12)
    halves = [featurizer.transform(_MIXED[:5]).matrix(config.n_features).toarray(),
              featurizer.transform(_MIXED[5:]).matrix(config.n_features).toarray()]
    np.testing.assert_allclose(np.vstack(halves), x, rtol=1e-12)


def test_word_characters_match_the_regular_expression_over_every_codepoint():
    from roots.data.classifier import _codepoint_classes

    table = _codepoint_classes()
    chars = [chr(c) for c in range(0x110000) if c != 0x0A]
    matched = {ord(w) for w in re.findall(word_pattern(), "\n".join(chars))}  # runs of one character
    assert matched == set(np.flatnonzero(table).tolist()) - {0x0A}
    assert table[ord("_")] and table[ord("७")] and table[0x094D]  # "_", a Devanagari digit, the virama
    assert not table[ord(" ")] and not table[ord("😀")] and not table[ord("-")]


def test_a_model_of_the_old_format_is_a_one_line_error(tmp_path):
    rng = random.Random(5)
    fit(_docs(PROSE, 20, rng), _docs(JUNK, 20, rng), FeatureConfig(n_features=2**8), holdout=0.0).save(tmp_path)
    meta = read_json(tmp_path / "meta.json")
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(UserError, match=r"v1, expected roots.text_classifier v2 .*retrain"):
        TextClassifier.load(tmp_path)


def test_batches_bound_documents_and_characters():
    featurizer = HashedFeatures(FeatureConfig(max_chars=0))
    texts = ["x" * 10] * 5 + ["y" * 100] + ["z"] * 3
    assert list(featurizer.batches(texts, max_docs=2, max_chars=50)) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]
    assert list(featurizer.batches(texts, max_docs=100, max_chars=35)) == [(0, 4), (4, 6), (6, 9)]
    assert list(featurizer.batches([])) == []
    cut = HashedFeatures(FeatureConfig(max_chars=5))  # counts the characters it will read
    assert list(cut.batches(texts, max_docs=100, max_chars=30)) == [(0, 6), (6, 9)]
