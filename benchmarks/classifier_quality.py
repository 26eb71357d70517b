"""Quality and speed of `roots classify` on the controlled clean/junk set.

Clean documents (WikiText-2, tinyshakespeare, Python docs) against junk made from them and from the
crawl's boilerplate (benchmarks/_controlled.py): the classifier trains on one part and is scored on
held-out documents (precision / recall / F1 of the clean class, recall of junk per kind). Speed: documents
scored per second by roots (batched hashing + one sparse mat-vec per batch) and by the scikit-learn
pipeline it wraps on the same features (FeatureUnion of the same HashingVectorizers + SGDClassifier's
predict_proba), one process each.

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

import numpy as np

from _controlled import DEFAULT_DATA, clean_documents, crawl_boilerplate, junk_documents
from roots.data.classifier import FeatureConfig, HashedFeatures, binary_report, fit


def _docs_per_s(fn, texts: list[str], repeat: int) -> float:
    fn(texts[:64])  # warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn(texts)
    return repeat * len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not (args.data / "MANIFEST.md").exists():
        sys.exit(f"shared data not found at {args.data}: pass --data PATH/TO/shared/data")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    clean = clean_documents(args.data, per_source=400, seed=0)
    anchors, code = crawl_boilerplate(args.data)
    junk = junk_documents(len(clean), clean, anchors, code, seed=1)
    cut_c, cut_j = int(len(clean) * 0.7), int(len(junk) * 0.7)
    train_pos, test_pos = clean[:cut_c], clean[cut_c:]
    train_neg, test_neg = junk[:cut_j], junk[cut_j:]
    features = FeatureConfig()
    start = time.perf_counter()
    clf = fit([d["text"] for d in train_pos], [d["text"] for d in train_neg], features, holdout=0.0)
    train_s = time.perf_counter() - start
    test = test_pos + test_neg
    texts = [d["text"] for d in test]
    labels = np.array([not d["junk"] for d in test])
    scores = clf.scores(texts)
    report = binary_report(labels, scores >= 0.5)
    by_kind = Counter(d["source"] for d in test_neg)
    caught = Counter(d["source"] for d, s in zip(test_neg, scores[len(test_pos):]) if s < 0.5)
    print(f"controlled set: {len(train_pos)}+{len(train_neg)} training, {len(test_pos)} clean + {len(test_neg)} "
          f"junk held out; training {train_s:.1f}s")
    print(f"roots classify: precision {report['precision']:.3f} recall {report['recall']:.3f} F1 {report['f1']:.3f} "
          f"(clean = positive)")
    print("junk caught per kind: " + ", ".join(f"{k} {caught[k]}/{v}" for k, v in sorted(by_kind.items())))

    # the anchor: the scikit-learn pipeline roots wraps (the same HashingVectorizers, side by side instead of
    # summed, L2-normalised, the same SGD), trained by scikit-learn itself on the same documents
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import Normalizer

    union = FeatureUnion([(f"h{i}", v) for i, v in enumerate(HashedFeatures(features).vectorizers)])
    pipe = make_pipeline(union, Normalizer(), SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=None,
                                                            class_weight="balanced", random_state=0))
    limit = features.max_chars
    pipe.fit([d["text"][:limit] for d in train_pos + train_neg], [True] * len(train_pos) + [False] * len(train_neg))
    anchor_scores = pipe.predict_proba([t[:limit] for t in texts])[:, 1]
    anchor = binary_report(labels, anchor_scores >= 0.5)
    print(f"scikit-learn pipeline: precision {anchor['precision']:.3f} recall {anchor['recall']:.3f} "
          f"F1 {anchor['f1']:.3f}")
    agree = float(np.mean((anchor_scores >= 0.5) == (scores >= 0.5)))
    bench = texts * (1 if args.quick else 3)
    repeat = 1 if args.quick else 2
    roots_dps = _docs_per_s(clf.scores, bench, repeat)
    anchor_dps = _docs_per_s(lambda ts: pipe.predict_proba([t[:limit] for t in ts]), bench, repeat)
    mean_chars = sum(min(len(t), limit) for t in bench) / len(bench)
    print(f"scoring ({len(bench)} docs, {mean_chars:.0f} chars each on average after the {limit}-char cut): "
          f"roots {roots_dps:,.0f} docs/s, scikit-learn pipeline {anchor_dps:,.0f} docs/s; decisions agree on "
          f"{agree:.1%}")
    print(f"RESULT classifier_heldout_f1 {report['f1']:.3f} goal >= 0.9")
    print(f"RESULT classifier_docs_per_s {roots_dps:.0f} goal >= 10000")


if __name__ == "__main__":
    main()
