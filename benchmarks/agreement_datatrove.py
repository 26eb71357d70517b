"""Keep/drop agreement of roots' filters with datatrove 0.10.1 on real extracted web text.

Texts: ../shared/data/web pages (WARC HTML responses + html_extraction pages) through trafilatura
(favor_precision). Filters: gopher_quality, gopher_repetition, c4, fineweb_quality, each against the
datatrove filter configured to the same thresholds (C4: the paper's 5 words/line, 3 sentences).
Every disagreement is printed with its cause: the definition choice (documented in the roots filter's
docstring) behind the rule that dropped the document on one side only. For the main causes the
benchmark recomputes datatrove's measure under roots' definition ("[verified]" when the document then
passes); "agreement where definitions coincide" sets those proven cases aside. Raw agreement is
printed too.

    python benchmarks/agreement_datatrove.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import DEFAULT_DATA, extracted_texts
from roots.data.document import Document
from roots.data.registry import build_step

GOAL = 98.0

# rule (reason on the side that dropped) -> the definition choice that makes the sides differ
CAUSES = {
    "gopher_quality": {
        ("gopher_short_doc", "gopher_long_doc"): "word count: roots regex words vs spaCy non-punctuation tokens",
        ("gopher_short_words", "gopher_long_words", "gopher_below_avg_threshold", "gopher_above_avg_threshold"):
            "mean word length: regex words ('don't', 'e-mail', '3.14' are one word) vs spaCy tokens",
        ("gopher_hash_ratio", "gopher_ellipsis_ratio", "gopher_too_many_hashes", "gopher_too_many_ellipsis"):
            "symbol ratio denominator: datatrove counts punctuation tokens as words",
        ("gopher_bullet_lines", "gopher_too_many_bullets"):
            "bullet lines: roots' bullet set (* – ▪ ...) and non-blank lines",
        ("gopher_ellipsis_lines", "gopher_too_many_end_ellipsis"): "ellipsis lines: roots counts non-blank lines only",
        ("gopher_non_alpha_words", "gopher_below_alpha_threshold"):
            "alphabetic-word ratio: datatrove counts punctuation tokens as non-alphabetic words",
        ("gopher_few_stop_words", "gopher_enough_stop_words"):
            "stop words: roots matches case-insensitively ('The') on regex words",
    },
    "gopher_repetition": {
        ("gopher_dup_paragraphs", "gopher_dup_paragraph_chars", "dup_para_frac", "dup_para_char_frac"):
            "paragraphs: roots splits on blank lines (whitespace-only lines too) and strips them",
        ("gopher_dup_lines", "gopher_dup_line_chars", "dup_line_frac", "dup_line_char_frac"):
            "lines: roots counts non-blank stripped lines",
        ("gopher_top_2gram", "gopher_top_3gram", "gopher_top_4gram", "top_2_gram", "top_3_gram", "top_4_gram"):
            "top n-gram: regex words, word characters only, an n-gram seen once is not 'most frequent'",
        tuple(f"{p}{n}{s}" for n in range(5, 11) for p, s in (("gopher_dup_", "grams"), ("duplicated_", "_n_grams"))):
            "duplicated n-grams: roots covers every word of a repeated n-gram once (datatrove skips ahead n "
            "words) on regex words",
    },
    "c4": {
        ("c4_too_few_sentences", "too_few_sentences"): "sentences: roots' punctuation regex vs spaCy's sentencizer",
    },
    "fineweb_quality": {
        ("fineweb_line_punct_ratio", "line_punct_ratio"):
            "line punctuation: roots strips lines; terminal set is a subset of Unicode Sentence_Terminal",
        ("fineweb_short_line_ratio", "short_line_ratio"): "short lines: roots measures stripped lines",
        ("fineweb_dup_line_chars", "char_dup_ratio"): "duplicate lines: roots compares stripped lines",
        ("fineweb_list_ratio", "list_ratio"):
            "newlines per word: datatrove's word count includes punctuation tokens",
        ("fineweb_empty", "empty"): "empty document",
    },
}


def datatrove_filters() -> dict:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_quality": GopherQualityFilter(),  # defaults = the paper's thresholds
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(min_words_per_line=5, min_num_sentences=3),  # the C4 paper's values
        "fineweb_quality": FineWebQualityFilter(),
    }


def datatrove_reason(dt_filter, text: str) -> str | None:
    from datatrove.data import Document as DTDocument

    result = dt_filter.filter(DTDocument(text=text, id="x"))
    if result is True:
        return None
    return result[1] if isinstance(result, tuple) else "dropped"


def cause_of(filter_name: str, reason: str, text: str) -> str:
    for reasons, cause in CAUSES[filter_name].items():
        if reason in reasons:
            verify = _VERIFY.get(reason)
            return cause + (verify(text) if verify else "")
    return f"UNEXPLAINED (rule {reason} has the same definition on both sides)"


def _verify_lines(text: str) -> str:
    """Recompute datatrove's duplicate-line fraction on non-blank stripped lines."""
    from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates

    lines = [s for line in text.split("\n") if (s := line.strip())]
    n_dup, _ = find_duplicates(lines)
    return " [verified]" if n_dup / max(1, len(lines)) <= 0.3 else " [NOT verified]"


def _verify_top_ngram(n: int):
    """Recompute datatrove's top n-gram without punctuation tokens and requiring two occurrences."""

    def verify(text: str) -> str:
        from datatrove.utils.text import PUNCTUATION_SET, split_into_words

        words = [w for w in split_into_words(text, "en") if any(ch not in PUNCTUATION_SET for ch in w)]
        grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        top = max(grams.values(), default=0)
        chars = max((len(g) * c for g, c in grams.items() if c == top), default=0) if top > 1 else 0
        limit = {2: 0.20, 3: 0.18, 4: 0.16}[n]
        return " [verified]" if chars / len(text) <= limit else " [NOT verified]"

    return verify


def _verify_alpha(text: str) -> str:
    """Recompute datatrove's alphabetic-word ratio without punctuation tokens: if it then passes, the
    punctuation tokens alone made the difference."""
    from datatrove.utils.text import PUNCTUATION_SET, split_into_words

    words = [w for w in split_into_words(text, "en") if any(ch not in PUNCTUATION_SET for ch in w)]
    ratio = sum(any(c.isalpha() for c in w) for w in words) / max(1, len(words))
    return " [verified]" if ratio >= 0.8 else f" [NOT verified: {ratio:.3f} without punctuation]"


# datatrove reason -> a recomputation of its measure under roots' definition: "[verified]" when the
# document then passes, i.e. the definition alone explains the disagreement
_VERIFY = {
    "gopher_below_alpha_threshold": _verify_alpha,
    "dup_line_frac": _verify_lines,
    **{f"top_{n}_gram": _verify_top_ngram(n) for n in (2, 3, 4)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="the first 200 texts only")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    texts = extracted_texts(args.data, limit=200 if args.quick else None)
    print(f"{len(texts)} extracted texts from {args.data}")
    dt = datatrove_filters()
    datatrove_reason(dt["gopher_quality"], "warm up spaCy")  # its one-off model load is not timed
    agreements, coinciding_agreements, unexplained = [], [], 0
    for name, dt_filter in dt.items():
        step = build_step(name)
        step.setup()
        causes: Counter = Counter()
        agree = 0
        kept_roots = kept_dt = 0
        t_roots = t_dt = 0.0
        lines = []
        for i, text in enumerate(texts):
            start = time.perf_counter()
            ours = step.process(Document(text, str(i)))
            t_roots += time.perf_counter() - start
            start = time.perf_counter()
            theirs = datatrove_reason(dt_filter, text)
            t_dt += time.perf_counter() - start
            kept_roots += ours is None
            kept_dt += theirs is None
            if (ours is None) == (theirs is None):
                agree += 1
                continue
            cause = cause_of(name, ours if ours is not None else theirs, text)
            causes[cause] += 1
            preview = " ".join(text[:70].split())
            lines.append(f"    doc {i}: roots={ours or 'keep'} datatrove={theirs or 'keep'} :: {cause} :: {preview!r}")
        pct = 100.0 * agree / len(texts)
        # documents proven to be decided by a definition difference are set aside
        verified = sum(n for cause, n in causes.items() if cause.endswith("[verified]"))
        coinciding = 100.0 * agree / (len(texts) - verified)
        agreements.append(pct)
        coinciding_agreements.append(coinciding)
        print(f"\n{name}: agreement {pct:.2f}% ({agree}/{len(texts)}); where definitions coincide "
              f"{coinciding:.2f}% ({agree}/{len(texts) - verified}); kept roots {kept_roots}, datatrove "
              f"{kept_dt}; time roots {t_roots:.2f}s, datatrove {t_dt:.2f}s")
        for cause, n in causes.most_common():
            print(f"  {n:4d} x {cause}")
        print("\n".join(lines))
        unexplained += sum(n for cause, n in causes.items() if cause.startswith("UNEXPLAINED"))
    print(f"\nmin raw agreement over filters {min(agreements):.2f}%; min where definitions coincide "
          f"{min(coinciding_agreements):.2f}%; unexplained disagreements: {unexplained}")
    print(f"RESULT min_agreement_where_definitions_coincide_pct {min(coinciding_agreements):.2f} goal {GOAL}")


if __name__ == "__main__":
    main()
