"""N-gram language models for ROOTS perplexity filtering (RECIPES.md §3.2 filter 8), without downloads.

`roots lm train` estimates an interpolated modified Kneser-Ney model (Chen & Goodman 1998, as KenLM's
lmplz does) from a reference corpus the user gives, and writes it as an ARPA file, so KenLM (or any
ARPA reader) can load it too. `NgramLM` reads ARPA files and scores text with the standard back-off
rule. Text is normalized as ROOTS/cc_net do before both training and scoring (`normalize_for_lm`).

Artifact: a folder with `model.arpa`, `meta.json` (format "roots.ngram_lm") and `run.json`.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roots.common.errors import UserError
from roots.common.io import atomic_write, open_text, read_json, write_json
from roots.common.records import artifact_meta, write_run_record
from roots.data.filters.roots_text import lm_tokens, normalize_for_lm, normalize_for_pieces

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FORMAT, FORMAT_VERSION = "roots.ngram_lm", 1
NO_PROB = -99.0  # ARPA's log10 "probability" of <s>, which is never predicted
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback, for corpora too small to estimate

Ngram = tuple[str, ...]


def sentence_tokens(line: str, lang: str | None = None) -> list[str]:
    """The LM's view of one line of text: normalized, then split into words and punctuation runs.

    `lang` picks the word splitter (zh, ja: segmented; `roots.data.words`), the same as the filters'.
    """
    return lm_tokens(normalize_for_lm(line), lang)


# ---------------------------------------------------------------------------------------- training


def discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Modified KN discounts D1, D2, D3+ from counts-of-counts t_k (Chen & Goodman 1998, eq. 26)."""
    t1, t2, t3, t4 = np.bincount(counts[counts <= 4].astype(np.int64), minlength=5)[1:5].tolist()
    if min(t1, t2, t3, t4) == 0:
        return FALLBACK_DISCOUNTS
    y = t1 / (t1 + 2 * t2)
    d = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    return d if all(0 < dk < k for k, dk in enumerate(d, 1)) else FALLBACK_DISCOUNTS


@dataclass
class NgramTable:
    """The distinct n-grams of one order, as arrays (row i = one n-gram).

    `prefix` / `suffix` index the rows of the order below (the n-gram without its last / first word),
    so no n-gram is ever stored as a tuple of strings while training.
    """

    word: np.ndarray  # last word id
    prefix: np.ndarray  # row of w_1..w_{n-1} in the table of order n-1 (unigrams: 0)
    suffix: np.ndarray  # row of w_2..w_n in the table of order n-1 (unigrams: 0)
    count: np.ndarray  # raw count
    starts_with_bos: np.ndarray  # bool


def _encode(sentences: Iterable[list[str]]) -> tuple[np.ndarray, list[str]]:
    """Token ids of all sentences, each as <s> w1 .. wk </s>, one flat array; and the vocabulary."""
    vocab = {BOS: 0, EOS: 1, UNK: 2}
    ids = array("i")
    for words in sentences:
        ids.append(0)
        ids.extend(vocab.setdefault(w, len(vocab)) for w in words)
        ids.append(1)
    return np.frombuffer(ids, dtype=np.int32).astype(np.int64), list(vocab)


def count_ngrams(ids: np.ndarray, vocab_size: int, order: int) -> list[NgramTable]:
    """Tables of orders 1..order (index 0 unused). N-grams never cross a sentence end: a window is
    valid when no </s> sits before its last position."""
    n_pos = len(ids)
    eos_before = np.concatenate([[0], np.cumsum(ids == 1)])  # number of </s> in ids[:i]
    zeros = np.zeros(vocab_size, dtype=np.int64)
    unigram = NgramTable(np.arange(vocab_size), zeros, zeros, np.bincount(ids, minlength=vocab_size),
                         np.arange(vocab_size) == 0)
    tables: list[NgramTable] = [unigram, unigram]
    row_at = ids  # row of the (n-1)-gram starting at each position (-1: none)
    for n in range(2, order + 1):
        starts = np.arange(max(n_pos - n + 1, 0))
        starts = starts[eos_before[starts + n - 1] == eos_before[starts]]  # no </s> before the last word
        keys = row_at[starts] * vocab_size + ids[starts + n - 1]
        uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        rep = starts[first]  # one position where each n-gram occurs
        tables.append(NgramTable(uniq % vocab_size, uniq // vocab_size, row_at[rep + 1], counts, ids[rep] == 0))
        row_at = np.full(n_pos, -1, dtype=np.int64)
        row_at[starts] = inverse.reshape(-1)
    return tables


@dataclass
class KneserNey:
    """An estimated model: per order, log10 p(w | h) of every seen n-gram and log10 back-off b(h)."""

    order: int
    vocab: list[str]
    tables: list[NgramTable]
    logp: list[np.ndarray]  # per order (index 0 unused)
    bow: list[np.ndarray]  # per order; NaN where the n-gram is never a context
    discounts: list[tuple[float, float, float]]  # per order 1..N
    ngram_counts: list[int]  # entries per order 1..N

    @classmethod
    def estimate(cls, sentences: Iterable[list[str]], order: int) -> KneserNey:
        ids, vocab = _encode(sentences)
        if len(vocab) == 3:
            raise UserError("no text to train on")
        V = len(vocab)
        tables = count_ngrams(ids, V, order)
        # Kneser-Ney counts: the top order keeps raw counts; below, an n-gram counts its distinct left
        # extensions, except those starting with <s>, which cannot be extended and keep raw counts.
        adjusted = [np.zeros(0)] * (order + 1)
        adjusted[order] = tables[order].count.copy()
        for n in range(order - 1, 0, -1):
            a = np.bincount(tables[n + 1].suffix, minlength=len(tables[n].word))
            adjusted[n] = np.where(tables[n].starts_with_bos, tables[n].count, a)
        adjusted[1][0] = 0  # <s> is context only; <unk> (id 2) has 0 too: only the interpolated share

        prob = [np.zeros(0)] * (order + 1)
        bow = [np.full(len(t.word), np.nan) for t in tables]
        all_d = []
        for n in range(1, order + 1):
            t, a = tables[n], adjusted[n]
            seen = a > 0
            d = discounts(a[seen])
            all_d.append(d)
            disc = np.where(seen, np.asarray(d)[np.clip(a, 1, 3) - 1], 0.0)
            # per context h (a row of order n-1): total count and the discount mass given away
            n_ctx = 1 if n == 1 else len(tables[n - 1].word)
            total = np.bincount(t.prefix, weights=a, minlength=n_ctx)
            freed = np.bincount(t.prefix, weights=disc, minlength=n_ctx)
            with np.errstate(divide="ignore", invalid="ignore"):
                gamma = np.where(total > 0, freed / total, 0.0)
            lower = np.full(len(t.word), 1.0 / (V - 1)) if n == 1 else prob[n - 1][t.suffix]  # V without <s>
            prob[n] = (a - disc) / total[t.prefix] + gamma[t.prefix] * lower
            if n > 1:
                has_ctx = total > 0
                bow[n - 1][has_ctx] = np.log10(gamma[has_ctx])
        with np.errstate(divide="ignore"):
            logp = [np.log10(p) if len(p) else p for p in prob]
        logp[1][0] = NO_PROB
        counts = [len(t.word) for t in tables[1:]]
        return cls(order, vocab, tables, logp, bow, all_d, counts)

    def ngram_strings(self) -> list[np.ndarray]:
        """The text of every n-gram, per order (index 0 unused)."""
        strings = [np.zeros(0, dtype=object), np.array(self.vocab, dtype=object)]
        words = strings[1]
        for n in range(2, self.order + 1):
            t = self.tables[n]
            strings.append(strings[n - 1][t.prefix] + " " + words[t.word])
        return strings

    def write_arpa(self, path: str | Path) -> None:
        strings = self.ngram_strings()
        with atomic_write(path) as f:
            f.write("\\data\\\n")
            for n in range(1, self.order + 1):
                f.write(f"ngram {n}={self.ngram_counts[n - 1]}\n")
            for n in range(1, self.order + 1):
                f.write(f"\n\\{n}-grams:\n")
                bows = self.bow[n] if n < self.order else np.full(len(strings[n]), np.nan)
                f.writelines(
                    f"{lp:.7g}\t{g}\n" if b != b else f"{lp:.7g}\t{g}\t{b:.7g}\n"  # b != b: NaN, no back-off
                    for lp, g, b in zip(self.logp[n].tolist(), strings[n].tolist(), bows.tolist())
                )
            f.write("\n\\end\\\n")


# ----------------------------------------------------------------------------------------- scoring


def arpa_path(path: str | Path) -> Path:
    """The ARPA file of an LM artifact folder (checked by its meta.json) or an .arpa path itself."""
    path = Path(path)
    if path.is_dir():
        meta = path / "meta.json"
        if not meta.is_file() or read_json(meta).get("format") != FORMAT:
            raise UserError(f"{path} is not an n-gram LM folder (no meta.json of format {FORMAT!r}); "
                            "make one with `roots lm train`")
        path = path / "model.arpa"
    if not path.is_file():
        raise UserError(f"n-gram LM not found: {path}")
    return path


class NgramLM:
    """An ARPA back-off model: log10 p(w | h) = logp(h w) if seen, else bow(h) + log10 p(w | h[1:])."""

    def __init__(self, order: int, logp: dict[Ngram, float], bow: dict[Ngram, float], lang: str | None = None):
        self.order, self.logp, self.bow = order, logp, bow
        self.lang = lang  # the word splitter the model was trained with

    @classmethod
    def load(cls, path: str | Path) -> NgramLM:
        """Load an LM artifact folder (roots lm train) or a plain .arpa file."""
        lm = cls.from_arpa(arpa_path(path))
        lm.lang = model_lang(path)
        return lm

    @classmethod
    def from_arpa(cls, path: str | Path) -> NgramLM:
        logp: dict[Ngram, float] = {}
        bow: dict[Ngram, float] = {}
        order, section = 0, 0
        with open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line in ("\\data\\", "\\end\\") or line.startswith("ngram "):
                    continue
                if line.startswith("\\") and line.endswith("-grams:"):
                    section = int(line[1:-7])
                    order = max(order, section)
                    continue
                parts = line.split("\t") if "\t" in line else line.split()
                try:
                    if "\t" in line:
                        g = tuple(parts[1].split(" "))
                        b = parts[2] if len(parts) > 2 else None
                    else:  # space-separated ARPA: prob, `section` words, optional back-off
                        g = tuple(parts[1:1 + section])
                        b = parts[1 + section] if len(parts) > 1 + section else None
                    logp[g] = float(parts[0])
                    if b is not None:
                        bow[g] = float(b)
                except (ValueError, IndexError) as e:
                    raise UserError(f"{path}:{lineno}: not an ARPA n-gram line: {line[:80]!r}") from e
        if (UNK,) not in logp or not order:
            raise UserError(f"{path}: not an ARPA model with an <unk> unigram")
        return cls(order, logp, bow)

    def log10_prob(self, history: Ngram, word: str) -> float:
        """log10 p(word | history), backing off to shorter histories."""
        if (word,) not in self.logp:
            word = UNK
        history = history[len(history) - self.order + 1:] if len(history) >= self.order else history
        backoff = 0.0
        for i in range(len(history) + 1):
            h = history[i:]
            p = self.logp.get((*h, word))
            if p is not None:
                return backoff + p
            backoff += self.bow.get(h, 0.0)
        raise AssertionError("unreachable: every word has a unigram entry")

    def score(self, words: list[str]) -> float:
        """log10 p(words </s> | <s>), as kenlm.Model.score(" ".join(words)) computes it."""
        tokens = (BOS, *words, EOS)
        n = self.order
        return sum(self.log10_prob(tokens[max(0, i - n + 1):i], tokens[i]) for i in range(1, len(tokens)))

    def document_perplexity(self, text: str) -> float:
        return document_perplexity(self.score, text, self.lang)


class KenLMScorer:
    """The same model read by KenLM's C++ module (pip `kenlm`), ~25x faster than `NgramLM`."""

    def __init__(self, arpa: str | Path, lang: str | None = None):
        import kenlm

        self.model = kenlm.Model(str(arpa))
        self.lang = lang

    def score(self, words: list[str]) -> float:
        return self.model.score(" ".join(words), bos=True, eos=True)

    def document_perplexity(self, text: str) -> float:
        return document_perplexity(self.score, text, self.lang)


def model_lang(path: str | Path) -> str | None:
    """The language an LM artifact folder was trained for (its meta.json), None for a bare .arpa file."""
    meta = Path(path) / "meta.json"
    return read_json(meta).get("lang") if meta.is_file() else None


def document_perplexity(score: Callable[[list[str]], float], text: str, lang: str | None = None) -> float:
    """ROOTS perplexity: 10^(-sum log10 p / sum (tokens + 1)) over the normalized non-empty lines."""
    total_logp, total_len = 0.0, 0
    for line in text.split("\n"):
        words = sentence_tokens(line, lang)
        if words:
            total_logp += score(words)
            total_len += len(words) + 1
    return 10.0 ** (-total_logp / total_len) if total_len else math.inf


class PieceScorer:
    """BigScience's perplexity over SentencePiece pieces, so its published cutoffs (RECIPES.md §3.3) apply.

    As the ROOTS filters scored with the edugp/kenlm Wikipedia models: `normalize_for_pieces` (case kept;
    newlines removed as non-printing, so a document is one line), SentencePiece pieces joined by spaces,
    each line scored with <s> ... </s> by the n-gram model, length = pieces + 1,
    ppl = 10^(-sum log10 p / sum length).
    """

    def __init__(self, sp_model: str | Path, lm: NgramLM | KenLMScorer, lowercase: bool = False):
        try:
            import sentencepiece
        except ImportError as e:
            raise UserError("SentencePiece LMs need the `sentencepiece` package: pip install 'roots[curate]'") from e
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        self.lm, self.lowercase = lm, lowercase

    def pieces(self, text: str) -> str:
        return " ".join(self.sp.encode_as_pieces(normalize_for_pieces(text, self.lowercase)))

    def document_perplexity(self, text: str) -> float:
        total_logp, total_len = 0.0, 0
        for line in self.pieces(text).split("\n"):
            words = line.split()
            total_logp += self.lm.score(words)
            total_len += len(words) + 1
        return 10.0 ** (-total_logp / total_len)


def _is_arpa(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    if path.name.endswith((".gz", ".zst")):
        return True  # compressed text: only ARPA is stored that way
    return b"\\data\\" in head


def resolve_lm(model: str | Path, lang: str | None = None, sp_model: str | Path | None = None
               ) -> tuple[Path, Path | None]:
    """(n-gram model file, SentencePiece model or None) of `model`: a `roots lm train` folder, a folder in
    the edugp/kenlm layout (BigScience's models: {lang}.arpa.bin or {lang}.arpa + {lang}.sp.model), or a
    model file (.arpa, KenLM binary) with `sp_model` given separately."""
    path = Path(model)
    sp = Path(sp_model) if sp_model else None
    if path.is_dir() and (path / "meta.json").is_file():
        meta = read_json(path / "meta.json")
        if meta.get("sp_model") and sp is None:
            sp = path / meta["sp_model"]
        path = arpa_path(path)
    elif path.is_dir():
        lang = lang or "LANG"
        names = [f"{lang}.arpa.bin", f"{lang}.arpa", f"{lang}.binary"]
        found = [path / n for n in names if (path / n).is_file()]
        if not found or (sp is None and not (path / f"{lang}.sp.model").is_file()):
            raise UserError(f"{path}: no roots LM (meta.json) and no {lang}.arpa.bin / {lang}.arpa + "
                            f"{lang}.sp.model (the edugp/kenlm layout of BigScience's models)")
        path, sp = found[0], sp or path / f"{lang}.sp.model"
    if not path.is_file():
        raise UserError(f"n-gram LM not found: {path}")
    if sp is not None and not sp.is_file():
        raise UserError(f"SentencePiece model not found: {sp}")
    return path, sp


def load_scorer(path: str | Path, backend: str = "auto", lang: str | None = None,
                sp_model: str | Path | None = None) -> NgramLM | KenLMScorer | PieceScorer:
    """A perplexity scorer: KenLM when importable ("auto"), else roots' own ARPA reader; over SentencePiece
    pieces (BigScience's scoring) when the model comes with a SentencePiece model."""
    if backend not in ("auto", "roots", "kenlm"):
        raise UserError(f"LM backend must be auto, roots or kenlm, got {backend!r}")
    lm_file, sp = resolve_lm(path, lang, sp_model)
    word_lang = model_lang(path) if Path(path).is_dir() else None
    use_kenlm = False
    if backend != "roots":
        try:
            import kenlm  # noqa: F401
            use_kenlm = True
        except ImportError as e:
            if backend == "kenlm":
                raise UserError("backend kenlm needs the `kenlm` package (pip install kenlm)") from e
    if use_kenlm:
        lm: NgramLM | KenLMScorer = KenLMScorer(lm_file, word_lang)
    elif not _is_arpa(lm_file):
        raise UserError(f"{lm_file} is a KenLM binary: scoring it needs the `kenlm` package (pip install kenlm), "
                        "or give the ARPA file it was built from (roots reads ARPA itself)")
    else:
        lm = NgramLM.from_arpa(lm_file)
        lm.lang = word_lang
    return PieceScorer(sp, lm) if sp is not None else lm


# ------------------------------------------------------------------------------------------- CLI


@dataclass
class LMTrainConfig:
    input: str = field(metadata={"help": "reference text: a roots corpus (folder or shard) or a text "
                                         "file (.txt, .gz, .zst), one sentence or paragraph per line"})
    output: str = field(metadata={"help": "the LM folder to write (model.arpa + meta.json)"})
    order: int = field(default=5, metadata={"help": "n-gram order (2-6)"})
    max_lines: int | None = field(default=None, metadata={"help": "stop after this many input lines"})
    lang: str | None = field(default=None, metadata={
        "help": "language of the text: picks the word splitter (zh, ja segmented; others by spaces), "
                "the same one the filters use; recorded in meta.json and used when scoring"})
    sentencepiece_vocab: int = field(default=0, metadata={
        "help": "> 0: train a SentencePiece (unigram) model of this many pieces on the text and the n-gram "
                "LM over its pieces, as BigScience's edugp/kenlm models are (0: a word-level LM)"})


def _input_lines(path: Path) -> Iterator[str]:
    from roots.data.corpus import SHARD_SUFFIXES, iter_corpus

    if path.is_dir() or path.name.endswith((".jsonl.zst", ".jsonl.gz", ".jsonl", ".parquet")):
        for doc in iter_corpus(path):
            yield from doc.text.split("\n")
        return
    if not path.is_file():
        raise UserError(f"--input not found: {path} (a text file or a corpus: {', '.join(SHARD_SUFFIXES)})")
    with open_text(path) as f:
        for line in f:
            yield line.rstrip("\n")


SP_MODEL = "model.sp.model"


def _train_sentencepiece(src: Path, out: Path, config: LMTrainConfig) -> PieceScorer:
    """A SentencePiece unigram model of the normalized reference text (as edugp's), saved as model.sp.model."""
    import io

    try:
        import sentencepiece
    except ImportError as e:
        raise UserError("--sentencepiece-vocab needs the `sentencepiece` package: pip install 'roots[curate]'") from e

    def lines() -> Iterator[str]:
        for i, line in enumerate(_input_lines(src)):
            if config.max_lines is not None and i >= config.max_lines:
                return
            if text := normalize_for_pieces(line):
                yield text

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=lines(), model_writer=model, vocab_size=config.sentencepiece_vocab,
        model_type="unigram", hard_vocab_limit=False, character_coverage=0.9995, minloglevel=2)
    with atomic_write(out / SP_MODEL, "wb") as f:
        f.write(model.getvalue())
    print(f"lm train: SentencePiece model ({config.sentencepiece_vocab} pieces at most) -> {out / SP_MODEL}",
          file=sys.stderr)
    return PieceScorer(out / SP_MODEL, lm=None)  # type: ignore[arg-type] (used for its pieces only)


def train(config: LMTrainConfig) -> int:
    """`roots lm train`: estimate a modified Kneser-Ney n-gram LM and write it as an ARPA artifact."""
    from tqdm import tqdm

    if not 2 <= config.order <= 6:
        raise UserError(f"--order must be between 2 and 6, got {config.order}")
    src, out = Path(config.input), Path(config.output)
    stats = Counter()
    pieces = _train_sentencepiece(src, out, config) if config.sentencepiece_vocab > 0 else None

    def sentences() -> Iterator[list[str]]:
        lines = tqdm(_input_lines(src), desc="lm train: reading", unit=" lines", file=sys.stderr,
                     total=config.max_lines, mininterval=1.0)
        for i, line in enumerate(lines):
            if config.max_lines is not None and i >= config.max_lines:
                break
            stats["lines"] += 1
            words = pieces.pieces(line).split() if pieces else sentence_tokens(line, config.lang)
            if words:
                stats["sentences"] += 1
                stats["tokens"] += len(words)
                yield words

    model = KneserNey.estimate(sentences(), config.order)
    model.write_arpa(out / "model.arpa")
    write_json(out / "meta.json", artifact_meta(
        FORMAT, FORMAT_VERSION, file="model.arpa", order=config.order,
        smoothing="interpolated modified Kneser-Ney",
        normalization=("roots_text.normalize_for_pieces + SentencePiece pieces" if pieces
                       else "roots_text.normalize_for_lm + lm_tokens"),
        lang=config.lang, sp_model=SP_MODEL if pieces else None,
        source=str(src), ngram_counts=model.ngram_counts, discounts=model.discounts, **stats))
    write_run_record(out, "lm_train", config)
    print(f"wrote a {config.order}-gram LM ({stats['tokens']:,} tokens, "
          f"{sum(model.ngram_counts):,} n-grams) to {out / 'model.arpa'}")
    return 0
