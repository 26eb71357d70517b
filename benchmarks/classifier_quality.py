"""Quality and speed of `roots classify` on the controlled clean/junk set.

Clean documents (WikiText-2, tinyshakespeare, Python docs) against junk made from them and from the
crawl's boilerplate (benchmarks/_controlled.py): the classifier trains on 70% and is scored on the held-out
30% (precision / recall / F1 of the clean class, recall of junk per kind), over 3 splits (clean and junk
drawn with different seeds); the RESULT is the mean F1. The featurizer is in-house (numpy-vectorised
hashing), so the anchor is scikit-learn computing the same feature definition: per word n-gram order a
HashingVectorizer with the same token pattern + 1 + log tf + L2 norm, the distinct-bigram share from its
analyzer, the same SGDClassifier, predict_proba. Speed: documents scored per second by each, one thread.

    python benchmarks/classifier_quality.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: both sides run on one thread

import numpy as np

from _controlled import DEFAULT_DATA, clean_documents, crawl_boilerplate, junk_documents
from roots.data.classifier import FeatureConfig, binary_report, fit, word_pattern

ALPHA, EPOCHS = 1e-6, 30  # fit's defaults, given to both


def _docs_per_s(fn, texts: list[str], repeat: int) -> float:
    fn(texts[:64])  # warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn(texts)
    return repeat * len(texts) / (time.perf_counter() - start)


def sklearn_pipeline(features: FeatureConfig):
    """scikit-learn computing roots' feature definition (its own hash function), + the same linear model."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    assert features.tf == "log" and features.norm == "order" and features.char_max == 0
    limit, top = features.max_chars, features.word_ngrams

    def order(n: int):
        return make_pipeline(HashingVectorizer(token_pattern=word_pattern(), ngram_range=(n, n),
                                               n_features=features.n_features, alternate_sign=False, norm=None),
                             TfidfTransformer(use_idf=False, sublinear_tf=True))

    analyzer = HashingVectorizer(token_pattern=word_pattern(), ngram_range=(top, top)).build_analyzer()

    def distinct_share(texts) -> np.ndarray:
        grams = [analyzer(t) for t in texts]
        return np.array([[len(set(g)) / len(g) if g else 1.0] for g in grams])

    parts = [(f"order{n}", order(n)) for n in range(1, top + 1)]
    if features.repetition:
        parts.append(("repetition", FunctionTransformer(distinct_share)))
    return make_pipeline(FunctionTransformer(lambda texts: [t[:limit] for t in texts]), FeatureUnion(parts),
                         SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None,
                                       class_weight="balanced", random_state=0))


def run_split(data: Path, seed: int, boilerplate, features: FeatureConfig) -> dict:
    clean = clean_documents(data, per_source=400, seed=seed)
    junk = junk_documents(len(clean), clean, *boilerplate, seed=seed + 1)
    cut_c, cut_j = int(len(clean) * 0.7), int(len(junk) * 0.7)
    train_pos, test_pos = clean[:cut_c], clean[cut_c:]
    train_neg, test_neg = junk[:cut_j], junk[cut_j:]
    start = time.perf_counter()
    clf = fit([d["text"] for d in train_pos], [d["text"] for d in train_neg], features, holdout=0.0,
              epochs=EPOCHS, alpha=ALPHA)
    train_s = time.perf_counter() - start
    test = test_pos + test_neg
    texts = [d["text"] for d in test]
    labels = np.array([not d["junk"] for d in test])
    scores = clf.scores(texts)
    pipe = sklearn_pipeline(features)
    pipe.fit([d["text"] for d in train_pos + train_neg], [True] * len(train_pos) + [False] * len(train_neg))
    anchor_scores = pipe.predict_proba(texts)[:, 1]
    caught = Counter(d["source"] for d, s in zip(test_neg, scores[len(test_pos):]) if s < 0.5)
    return {"roots": binary_report(labels, scores >= 0.5), "sklearn": binary_report(labels, anchor_scores >= 0.5),
            "caught": caught, "kinds": Counter(d["source"] for d in test_neg), "train_s": train_s,
            "agree": float(np.mean((anchor_scores >= 0.5) == (scores >= 0.5))), "clf": clf, "pipe": pipe,
            "texts": texts, "sizes": (len(train_pos), len(train_neg), len(test_pos), len(test_neg))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not (args.data / "MANIFEST.md").exists():
        sys.exit(f"shared data not found at {args.data}: pass --data PATH/TO/shared/data")
    boilerplate = crawl_boilerplate(args.data)
    features = FeatureConfig()
    splits = []
    for seed in (0, 1, 2):
        r = run_split(args.data, seed, boilerplate, features)
        splits.append(r)
        print(f"split {seed} ({'+'.join(map(str, r['sizes'][:2]))} training, {'+'.join(map(str, r['sizes'][2:]))} "
              f"held out; training {r['train_s']:.1f}s): roots precision {r['roots']['precision']:.3f} recall "
              f"{r['roots']['recall']:.3f} F1 {r['roots']['f1']:.3f}; scikit-learn F1 {r['sklearn']['f1']:.3f}; "
              f"decisions agree on {r['agree']:.1%}")
        print("  junk caught per kind: " + ", ".join(f"{k} {r['caught'][k]}/{v}" for k, v in sorted(r["kinds"].items())))
    f1 = [r["roots"]["f1"] for r in splits]
    anchor_f1 = [r["sklearn"]["f1"] for r in splits]
    print(f"roots classify F1 over 3 splits: mean {np.mean(f1):.3f}, min {min(f1):.3f}; scikit-learn pipeline: "
          f"mean {np.mean(anchor_f1):.3f}, min {min(anchor_f1):.3f} (clean = positive)")

    first = splits[0]
    bench = first["texts"] * (2 if args.quick else 6)
    repeat = 1 if args.quick else 3
    roots_dps = _docs_per_s(first["clf"].scores, bench, repeat)
    anchor_dps = _docs_per_s(first["pipe"].predict_proba, bench, repeat)
    union = first["pipe"].steps[1][1]
    cut = [t[:features.max_chars] for t in bench]
    parts = ", ".join(f"{name} {_docs_per_s(part.transform, cut, repeat):,.0f}" for name, part in union.transformer_list)
    limit = features.max_chars
    mean_chars = sum(min(len(t), limit) for t in bench) / len(bench)
    print(f"scoring ({len(bench)} docs, {mean_chars:.0f} chars each on average after the {limit}-char cut, one "
          f"thread): roots {roots_dps:,.0f} docs/s, scikit-learn on the same features {anchor_dps:,.0f} docs/s "
          f"({roots_dps / anchor_dps:.1f}x); scikit-learn's parts alone, docs/s: {parts}")
    print(f"RESULT classifier_heldout_f1 {np.mean(f1):.3f} goal >= 0.9")
    print(f"RESULT classifier_docs_per_s {roots_dps:.0f} goal >= 10000")


if __name__ == "__main__":
    main()
