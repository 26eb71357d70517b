"""The ROOTS recipe in each of its 13 languages: clean documents kept, junk documents dropped.

For each language, clean documents are ~10 of that language's lingua sentences (../shared/data/langid)
joined into one text, and junk documents are built from the same sentences: character-repetition spam,
keyword stuffing, special-character soup and flagged-word stuffing (BigScience's list for the language).
Each goes through `roots curate --recipe roots --lang X`'s steps (ROOTS editing and filters, langid; no
perplexity model, no extraction, PII or dedup, which do not judge quality).

Anchor: the same steps with the English row for every language (what `--recipe roots` did before it
took `--lang`): it shows what per-language parameters, lists and word splitting are worth.
Goal: clean kept >= 0.90 and junk dropped >= 0.90 for every language.
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.filters.roots_text import bigscience_list
from roots.data.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = ["ar", "bn", "ca", "en", "es", "eu", "fr", "hi", "id", "pt", "ur", "vi", "zh"]
SKIP = {"extract", "roots_perplexity", "pii", "simhash_dedup", "substring_dedup"}
SOUP = "!@#$%^&*()[]{}<>/\\|~`+=_-:;\"'0123456789★☆●■▲►•…€£¥©®™😀😂👍🔥✨"


def load_sentences(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            lang, _, text = line.rstrip("\n").partition("\t")
            if lang in LANGUAGES and text:
                out[lang].append(text)
    return out


def clean_docs(sentences: list[str], n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.sample(sentences, 10)) for _ in range(n)]


def junk_docs(lang: str, sentences: list[str], n: int, rng: random.Random) -> dict[str, list[str]]:
    """n documents of each junk kind, built from the language's own sentences."""
    words = [w for s in sentences for w in s.split() if len(w) > 1]
    flagged = sorted(bigscience_list("flagged_words", lang) or ())
    own = [w for w in flagged if w not in bigscience_list("flagged_words", "en")] if lang != "en" else flagged
    out: dict[str, list[str]] = defaultdict(list)
    for _ in range(n):
        base = rng.choice(sentences)
        # character-repetition spam: a fragment repeated, as in "cheap!!! cheap!!! cheap!!!" pages
        frag = base[: rng.randint(8, 20)]
        out["char_repetition"].append(" ".join([frag] * rng.randint(20, 40)))
        # keyword stuffing: a handful of the language's words repeated in random order
        keywords = rng.sample(words, 4)
        out["keyword_stuffing"].append(" ".join(rng.choice(keywords) for _ in range(rng.randint(60, 120))))
        # special-character soup: symbols, digits and emoji with a few words
        soup = []
        for _ in range(rng.randint(60, 120)):
            soup.append("".join(rng.choice(SOUP) for _ in range(rng.randint(2, 6))))
            if rng.random() < 0.25:
                soup.append(rng.choice(words))
        out["special_characters"].append(" ".join(soup))
        # flagged-word stuffing: one clean document with the language's flagged words every few words
        text = " ".join(rng.sample(sentences, 6)).split()
        pool = own or flagged
        for i in range(len(text) - 1, 0, -4):
            text.insert(i, rng.choice(pool))
        out["flagged_words"].append(" ".join(text))
    return out


def run_steps(steps, texts: list[str]) -> tuple[int, dict[str, int]]:
    """Documents kept, and drops by step (first failing step)."""
    docs = iter([Document(t, str(i), {}) for i, t in enumerate(texts)])
    stats = []
    for step in steps:
        s = StepStats(step.name)
        stats.append(s)
        docs = step.run(docs, s)
    kept = sum(1 for _ in docs)
    return kept, {s.name: s.docs_in - s.docs_out for s in stats if s.docs_in > s.docs_out}


def build(lang: str):
    recipe = load_recipe("roots").for_language(lang)
    recipe.steps = [(n, p) for n, p in recipe.steps if n not in SKIP]
    steps = recipe.build_steps()
    for step in steps:
        step.setup()
    return steps


def evaluate(steps_for, data, n_docs: int, seed: int, verbose: bool) -> tuple[dict[str, float], dict[str, float]]:
    clean_kept, junk_dropped = {}, {}
    for lang in LANGUAGES:
        rng = random.Random(seed)
        steps = steps_for(lang)
        clean = clean_docs(data[lang], n_docs, rng)
        kept, drops = run_steps(steps, clean)
        clean_kept[lang] = kept / len(clean)
        junk = junk_docs(lang, data[lang], max(n_docs // 4, 1), rng)
        junk_total = junk_kept = 0
        kinds = {}
        for kind, texts in junk.items():
            k, _ = run_steps(steps, texts)
            kinds[kind] = 1 - k / len(texts)
            junk_kept += k
            junk_total += len(texts)
        junk_dropped[lang] = 1 - junk_kept / junk_total
        if verbose:
            print(f"  {lang}: clean kept {clean_kept[lang]:.3f} (clean drops {drops or '-'}), junk dropped "
                  f"{junk_dropped[lang]:.3f} ({', '.join(f'{k} {v:.2f}' for k, v in kinds.items())})")
    return clean_kept, junk_dropped


def words_vs_datatrove(sentences: list[str]) -> None:
    """Chinese words: roots' splitter (rjieba) vs datatrove's zh word tokenizer (spaCy + jieba)."""
    from roots.data.words import WORD_RE, split_words

    text = "\n".join(sentences) * 5
    mb = len(text.encode()) / 1e6
    start = time.perf_counter()
    ours = split_words(text, "zh")
    ours_s = time.perf_counter() - start
    try:
        from datatrove.utils.word_tokenizers import SpaCyTokenizer

        tokenizer = SpaCyTokenizer("zh")
        tokenizer.word_tokenize("预热")  # load spaCy + jieba's dictionary outside the timing
        start = time.perf_counter()
        theirs = [w for w in tokenizer.word_tokenize(text) if WORD_RE.fullmatch(w)]
        theirs_s = time.perf_counter() - start
    except ImportError as e:
        print(f"zh words: roots {mb / ours_s:.1f} MB/s; datatrove anchor unavailable ({e})")
        return
    same = sum((Counter(ours) & Counter(theirs)).values()) / max(len(ours), len(theirs))
    print(f"zh words: roots (rjieba) {mb / ours_s:.2f} MB/s, datatrove (spaCy + jieba) {mb / theirs_s:.2f} MB/s; "
          f"{len(ours)} vs {len(theirs)} words, {same:.4f} shared (multiset overlap)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="20 clean documents per language (else 60)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load_sentences(args.data / "langid/lingua_sentences_shared.tsv.gz")
    n_docs = 20 if args.quick else 60
    print(f"{len(LANGUAGES)} languages, {n_docs} clean + {4 * max(n_docs // 4, 1)} junk documents each")

    start = time.perf_counter()
    print("roots: --recipe roots --lang X")
    clean, junk = evaluate(build, data, n_docs, args.seed, verbose=True)
    roots_s = time.perf_counter() - start
    english = build("en")
    print("anchor: the English row for every language (the roots recipe before --lang)")
    a_clean, a_junk = evaluate(lambda _lang: english, data, n_docs, args.seed, verbose=True)

    print(f"{'lang':5s} {'clean kept':>11s} {'junk dropped':>13s}   anchor: {'clean kept':>11s} {'junk dropped':>13s}")
    for lang in LANGUAGES:
        print(f"{lang:5s} {clean[lang]:11.3f} {junk[lang]:13.3f}   {'':7s} {a_clean[lang]:11.3f} {a_junk[lang]:13.3f}")
    print(f"roots time {roots_s:.1f} s")
    words_vs_datatrove(data["zh"])
    print(f"anchor min clean kept {min(a_clean.values()):.3f}, min junk dropped {min(a_junk.values()):.3f}")
    print(f"RESULT min_clean_kept_over_languages {min(clean.values()):.3f} goal 0.90")
    print(f"RESULT min_junk_dropped_over_languages {min(junk.values()):.3f} goal 0.90")


if __name__ == "__main__":
    main()
