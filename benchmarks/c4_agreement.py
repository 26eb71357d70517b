"""The c4 recipe's rules vs the C4 reference rules as datatrove implements them, per document.

Texts: the shared pages through trafilatura (benchmarks/_pages.py). Both sides apply, in order: C4's line
and document rules with the paper's values (5 words per line, 3 sentences), the LDNOOBW English bad
words (the list roots ships; datatrove would download it), then the corpus-wide dedup of three-sentence
spans with the 3-sentence minimum again (datatrove's SentenceDedup with n_sentences=3,
min_num_sentences=3 and no word minimum). Agreement = share of documents both keep or both drop.
Language ID is left out (datatrove has no langdetect step) and so is URL dedup (page URLs are unique).

Extra: a second corpus of the same pages with every page also present as a copy that appends a shared
boilerplate block (three sentences), so the dedup stage has spans to remove on both sides.

    python benchmarks/c4_agreement.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pages import DEFAULT_DATA, extracted_texts

BOILERPLATE = ("Subscribe to our newsletter for weekly updates. We never share your address with anyone. "
               "You can leave the list at any time with one click.")


def roots_side(texts: list[str]) -> tuple[list[bool], float]:
    from roots.data.dedup.sentence import sentence_dedup
    from roots.data.document import Document
    from roots.data.filters.c4 import C4

    start = time.perf_counter()
    step = C4(min_words_per_line=5, min_sentences=3, badwords=True, lang="en")
    survivors = {}
    for i, text in enumerate(texts):
        doc = Document(text, str(i), {"lang": "en"})
        if step.process(doc) is None:
            survivors[i] = doc.text
    after = sentence_dedup(list(survivors.values()), n_sentences=3, min_sentences=3)
    kept = {i for i, out in zip(survivors, after) if out is not None}
    return [i in kept for i in range(len(texts))], time.perf_counter() - start


def _patch_badwords(tmp: Path) -> None:
    """datatrove downloads LDNOOBW; give it the same English list roots ships."""
    import datatrove.pipeline.filters.c4_filters as c4_filters

    from roots.data.lists import load_list

    path = tmp / "en"
    path.write_text("\n".join(sorted(load_list("ldnoobw_en"))) + "\n", encoding="utf-8")
    c4_filters.cached_asset_path_or_download = lambda *a, **k: str(path)


def datatrove_side(texts: list[str]) -> tuple[list[bool], float]:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.sentence_dedup import (
        SentDedupConfig,
        SentenceDedupFilter,
        SentenceDedupSignature,
        SentenceFindDedups,
    )
    from datatrove.pipeline.filters import C4BadWordsFilter, C4QualityFilter

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _patch_badwords(tmp)
        start = time.perf_counter()
        quality = C4QualityFilter(min_words_per_line=5, min_num_sentences=3)
        badwords = C4BadWordsFilter()
        survivors = []
        for i, text in enumerate(texts):
            doc = Document(text=text, id=str(i), metadata={"language": "en"})
            if quality.filter(doc) is True and badwords.filter(doc) is True:
                survivors.append(doc)
        config = SentDedupConfig(n_sentences=3, min_num_sentences=3, min_doc_words=0)
        SentenceDedupSignature(str(tmp / "sigs"), config=config).run(iter(survivors), rank=0, world_size=1)
        SentenceFindDedups(str(tmp / "sigs"), str(tmp / "dups"), config=config).run(rank=0, world_size=1)
        kept_docs = SentenceDedupFilter(str(tmp / "dups"), config=config).run(iter(survivors), rank=0, world_size=1)
        kept = {int(d.id) for d in kept_docs}
        return [i in kept for i in range(len(texts))], time.perf_counter() - start


def compare(name: str, texts: list[str]) -> float:
    ours, ours_s = roots_side(texts)
    theirs, theirs_s = datatrove_side(texts)
    agree = sum(a == b for a, b in zip(ours, theirs)) / len(texts)
    print(f"{name}: {len(texts)} documents; kept roots {sum(ours)} ({ours_s:.1f} s), datatrove {sum(theirs)} "
          f"({theirs_s:.1f} s); agreement {agree:.4f}")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            print(f"  differs #{i}: roots {'keep' if a else 'drop'}, datatrove {'keep' if b else 'drop'}: "
                  f"{texts[i][:90]!r}")
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="the first 200 pages")
    args = parser.parse_args()
    texts = extracted_texts(args.data, limit=200 if args.quick else None)
    plain = compare("shared pages", texts)
    # the same pages plus boilerplated copies: three-sentence spans repeated across documents
    doubled = compare("pages + boilerplated copies", texts + [t + "\n" + BOILERPLATE for t in texts])
    print(f"RESULT c4_agreement {min(plain, doubled):.4f} goal 0.98")


if __name__ == "__main__":
    main()
