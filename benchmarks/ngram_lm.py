"""roots' n-gram LM vs KenLM: train on WikiText-2 valid, score WikiText-2 test with both, same ARPA file.

KenLM (pip `kenlm`) cannot train without `lmplz` (boost), so the anchor scores roots' ARPA file; the
comparison is agreement (log10 probability per token) and scoring speed, plus roots' training time.

    python benchmarks/ngram_lm.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from roots.data.lm import KneserNey, NgramLM, sentence_tokens


def read(path: Path, limit: int | None) -> list[list[str]]:
    with gzip.open(path, "rt") as f:
        lines = [t for t in map(sentence_tokens, f) if t]
    return lines[:limit] if limit else lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer training and test lines")
    args = parser.parse_args()
    train = read(args.data / "lm/wikitext-2/valid.txt.gz", 800 if args.quick else None)
    test = read(args.data / "lm/wikitext-2/test.txt.gz", 500 if args.quick else None)
    n_train, n_test = sum(map(len, train)), sum(len(t) + 1 for t in test)

    start = time.perf_counter()
    model = KneserNey.estimate(train, args.order)
    train_s = time.perf_counter() - start
    print(f"roots  train {args.order}-gram on {n_train:,} tokens: {train_s:.2f} s "
          f"({n_train / train_s:,.0f} tokens/s; n-grams per order {model.ngram_counts})")
    with tempfile.TemporaryDirectory() as tmp:
        arpa = Path(tmp) / "model.arpa"
        model.write_arpa(arpa)
        ours = NgramLM.from_arpa(arpa)
        start = time.perf_counter()
        ours_scores = [ours.score(t) for t in test]
        ours_s = time.perf_counter() - start
        ppl = 10 ** (-sum(ours_scores) / n_test)
        print(f"roots  score {len(test):,} lines: {len(test) / ours_s:,.0f} lines/s, test perplexity {ppl:.1f}")
        try:
            import kenlm
        except ImportError:
            print("kenlm not installed: anchor skipped")
            print("RESULT kenlm_max_abs_log10_diff_per_token nan goal 0.0001")
            return
        theirs = kenlm.Model(str(arpa))
        joined = [" ".join(t) for t in test]
        start = time.perf_counter()
        their_scores = [theirs.score(t) for t in joined]
        their_s = time.perf_counter() - start
    print(f"kenlm  score {len(test):,} lines: {len(test) / their_s:,.0f} lines/s, test perplexity "
          f"{10 ** (-sum(their_scores) / n_test):.1f} (2 shared cores, under contention)")
    diff = max(abs(a - b) / (len(t) + 1) for a, b, t in zip(ours_scores, their_scores, test))
    print(f"RESULT kenlm_max_abs_log10_diff_per_token {diff:.2e} goal 0.0001")


if __name__ == "__main__":
    main()
