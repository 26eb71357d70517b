"""N-gram LM for ROOTS perplexity filtering (RECIPES.md §3.2 filter 8): modified Kneser-Ney + ARPA."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import random

import numpy as np
import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data.document import Document
from roots.data.filters.roots import RootsPerplexity
from roots.data.filters.roots_text import normalize_for_lm
from roots.data.lm import EOS, UNK, KneserNey, NgramLM, discounts, load_scorer, sentence_tokens


def read_lines(path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return f.read().splitlines()


@pytest.fixture()
def tiny(tmp_path) -> NgramLM:
    """Bigram model of the two sentences "a b" and "a c", written to ARPA and read back."""
    model = KneserNey.estimate([["a", "b"], ["a", "c"]], order=2)
    model.write_arpa(tmp_path / "tiny.arpa")
    return NgramLM.from_arpa(tmp_path / "tiny.arpa")


def test_hand_worked_bigram_model(tiny):
    """Worked by hand (discounts fall back to 0.5/1/1.5: the corpus is too small to estimate them).

    Unigram adjusted counts (distinct left contexts): a 1, b 1, c 1, </s> 2; V = {a, b, c, </s>, <unk>};
    gamma() = (0.5*3 + 1*1)/5 = 0.5, so p(a) = 0.5/5 + 0.5/5 = 0.2, p(</s>) = 1/5 + 0.1 = 0.3,
    p(<unk>) = 0.1. Bigrams: p(a|<s>) = (2-1)/2 + 0.5*0.2 = 0.6, p(b|a) = 0.5/2 + 0.5*0.2 = 0.35,
    p(</s>|b) = 0.5/1 + 0.5*0.3 = 0.65; unseen pairs back off with gamma(h) = 0.5.
    """
    expected = {(): {"a": 0.2, "b": 0.2, "c": 0.2, EOS: 0.3, UNK: 0.1},
                ("<s>",): {"a": 0.6}, ("a",): {"b": 0.35, "c": 0.35}, ("b",): {EOS: 0.65}}
    for history, probs in expected.items():
        for word, p in probs.items():
            assert 10 ** tiny.log10_prob(history, word) == pytest.approx(p, abs=1e-6), (history, word)
    assert 10 ** tiny.score(["a", "b"]) == pytest.approx(0.6 * 0.35 * 0.65, rel=1e-5)
    assert 10 ** tiny.score(["b", "a"]) == pytest.approx((0.5 * 0.2) * (0.5 * 0.2) * (0.5 * 0.3), rel=1e-5)
    assert 10 ** tiny.score(["zebra"]) == pytest.approx((0.5 * 0.1) * 0.3, rel=1e-5)  # <unk> is no context
    # §3.2.8: ppl = 10^(-sum log10 p / sum (len + 1))
    assert tiny.document_perplexity("A b\n\nb A") == pytest.approx(
        (0.6 * 0.35 * 0.65 * 0.1 * 0.1 * 0.15) ** (-1 / 6), rel=1e-5)


def test_modified_kn_discounts():
    """Chen & Goodman: Y = t1/(t1+2 t2), D1 = 1-2Y t2/t1, D2 = 2-3Y t3/t2, D3+ = 3-4Y t4/t3."""
    counts = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4] * 1 + [9] * 5)
    y = 10 / (10 + 8)
    assert discounts(counts) == pytest.approx((1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2))


def test_distributions_sum_to_one(shared_data, tmp_path):
    lines = read_lines(shared_data / "lm/wikitext-2/valid.txt.gz")[:400]
    model = KneserNey.estimate((t for t in map(sentence_tokens, lines) if t), order=4)
    model.write_arpa(tmp_path / "m.arpa")
    lm = NgramLM.from_arpa(tmp_path / "m.arpa")
    vocab = [g[0] for g in lm.logp if len(g) == 1 and g[0] != "<s>"]
    rng = random.Random(0)
    histories = [(), ("<s>",)] + [g[:-1] for g in rng.sample(sorted(g for g in lm.logp if len(g) == 4), 5)]
    histories += [("the", "zzz-unseen")]
    for h in histories:
        assert math.fsum(10 ** lm.log10_prob(h, w) for w in vocab) == pytest.approx(1.0, abs=1e-5), h


def test_in_domain_text_scores_lower_than_shuffled(shared_data, tmp_path):
    """Sanity: a model of Wikipedia text prefers held-out Wikipedia sentences to their shuffled words."""
    out = tmp_path / "lm"
    assert main(["lm", "train", "--input", str(shared_data / "lm/wikitext-2/valid.txt.gz"),
                 "--output", str(out), "--order", "3", "--max-lines", "1500"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "roots.ngram_lm" and meta["order"] == 3 and (out / "run.json").is_file()
    lm = NgramLM.load(out)
    test = [s for s in read_lines(shared_data / "lm/wikitext-2/test.txt.gz") if len(s.split()) > 20][:100]
    rng = random.Random(0)
    shuffled = [" ".join(rng.sample(s.split(), len(s.split()))) for s in test]
    ppl = [lm.document_perplexity(s) for s in test]
    ppl_shuffled = [lm.document_perplexity(s) for s in shuffled]
    assert sum(ppl) / len(ppl) < 0.5 * sum(ppl_shuffled) / len(ppl_shuffled)
    assert sum(a < b for a, b in zip(ppl, ppl_shuffled)) >= 95

    # the ROOTS filter with this model: drops by its threshold, keeps the score in metadata
    f = RootsPerplexity(lang="en", model=str(out), max_perplexity=sorted(ppl)[50], backend="roots")
    d = Document(test[0], "t")
    assert f.filter(d) == (None if d.metadata.get("perplexity", 0) <= f.max_perplexity else "roots_perplexity")
    assert d.metadata["perplexity"] == round(ppl[0], 1)
    kept = sum(f.filter(Document(s, str(i))) is None for i, s in enumerate(test))
    assert kept == sum(round(p, 1) <= f.max_perplexity for p in ppl)

    # KenLM, when installed, reads the same artifact and gives the same perplexities (float32 storage)
    if importlib.util.find_spec("kenlm"):
        fast = load_scorer(out, "kenlm")
        for s, p in zip(test, ppl):
            assert fast.document_perplexity(s) == pytest.approx(p, rel=1e-3)


def test_roots_normalization():
    """cc_net/ROOTS: lowercase, digits -> 0, unicode punctuation -> ASCII, non-printing removed."""
    assert normalize_for_lm("  Année 2021\u00a0: « Très » bien…\x07 ") == 'année 0000 : " très " bien...'
    assert sentence_tokens("Hello, World! 42") == ["hello", ",", "world", "!", "00"]


def test_kenlm_agrees(tiny, tmp_path):
    """When the kenlm module is installed, it reads roots' ARPA file and scores exactly as roots does."""
    kenlm = pytest.importorskip("kenlm")
    model = KneserNey.estimate([["a", "b"], ["a", "c"], ["b", "c", "a"]], order=3)
    model.write_arpa(tmp_path / "m.arpa")
    ours, theirs = NgramLM.from_arpa(tmp_path / "m.arpa"), kenlm.Model(str(tmp_path / "m.arpa"))
    for sentence in (["a", "b"], ["c", "a", "b"], ["zebra", "a"], []):
        assert theirs.score(" ".join(sentence)) == pytest.approx(ours.score(sentence), abs=1e-4)


def test_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="not an n-gram LM folder"):
        NgramLM.load(tmp_path)
    with pytest.raises(UserError, match=r"roots_perplexity\.model: not found"):
        RootsPerplexity(model=str(tmp_path / "missing"))
    with pytest.raises(UserError, match="backend"):
        load_scorer(tmp_path, "torch")
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\nnot-a-number\tword\n")
    with pytest.raises(UserError, match=r"bad\.arpa:5"):
        NgramLM.from_arpa(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n   \n")
    assert main(["lm", "train", "--input", str(empty), "--output", str(tmp_path / "o")]) == 2
    assert main(["lm", "train", "--input", str(empty), "--output", str(tmp_path / "o"), "--order", "9"]) == 2
    assert main(["lm", "train", "--input", str(tmp_path / "nope.txt"), "--output", str(tmp_path / "o")]) == 2
