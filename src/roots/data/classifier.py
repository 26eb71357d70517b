"""`roots classify train` and the `quality_classifier` step: a fast linear text classifier (DCLM /
FineWeb-Edu style quality filtering).

Features are hashed word n-grams (optionally character n-grams), each order L2-normalised on its own,
plus the share of distinct n-grams (repetition); the hashing is in-house and vectorised with numpy
(HashedFeatures: a batch of documents is one codepoint array), stateless, so the saved model is just the
weight vector plus the feature settings. The learner is scikit-learn's logistic-loss SGD on the sparse
matrix; scoring needs no matrix (one weighted bincount per batch). The model is saved as `model.npz`
(weights) + `meta.json` (format, version, feature settings, held-out metrics); never pickle.
"""

from __future__ import annotations

import functools
import math
import random
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from roots.common.errors import UserError
from roots.common.io import read_json, write_json
from roots.common.records import artifact_meta, write_run_record
from roots.data.base import Step
from roots.data.document import Document

FORMAT = "roots.text_classifier"
VERSION = 2  # 2: in-house hashing (1: scikit-learn's HashingVectorizer), per-order norms, repetition


@dataclass
class FeatureConfig:
    """Hashed n-gram features; the same settings are used to train and to score."""

    n_features: int = field(default=2**20, metadata={"help": "hash buckets (a power of two)"})
    word_ngrams: int = field(default=2, metadata={"help": "word 1..N-grams (0: none)"})
    char_min: int = field(default=3, metadata={"help": "shortest character n-gram (inside word boundaries)"})
    char_max: int = field(default=0, metadata={
        "help": "longest character n-gram (0: none; on the controlled set they cost time and did not help)"})
    max_chars: int = field(default=4000, metadata={"help": "read at most this many characters of a document "
                                                           "(0: all); the head says most about its quality"})
    tf: str = field(default="log", metadata={"help": "term frequency: raw (counts), binary or log (1 + log)"})
    norm: str = field(default="order", metadata={
        "help": "L2 normalisation: order (each n-gram order on its own) or joint (all features together)"})
    repetition: bool = field(default=True, metadata={
        "help": "a dense feature: the fraction of distinct word n-grams of the highest order (repeated text)"})

    def __post_init__(self) -> None:
        if self.n_features < 2 or self.n_features & (self.n_features - 1):
            raise UserError(f"features.n_features must be a power of two, got {self.n_features}")
        if self.word_ngrams <= 0 and self.char_max <= 0:
            raise UserError("features: give word n-grams, character n-grams or both")
        if self.char_max and not 1 <= self.char_min <= self.char_max:
            raise UserError(f"features: need 1 <= char_min <= char_max, got {self.char_min}, {self.char_max}")
        for name, allowed in (("tf", ("raw", "binary", "log")), ("norm", ("order", "joint"))):
            if getattr(self, name) not in allowed:
                raise UserError(f"features.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")


# ------------------------------------------------------------------------------------------- features

# a word is a run of word characters (is_word_char), except that each CJK character (Chinese ideographs,
# Japanese kana) is a word of its own, so that word bigrams over unsegmented Chinese are character bigrams
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_NONWORD, _WORD, _SINGLE = 0, 1, 2  # codepoint classes
# hashing: polynomial hash of the codepoints (+1) of a word mod 2**64, its length mixed in, then
# splitmix64's finaliser; an n-gram folds the hashes of its words (g = mix(g * NGRAM_MUL + h)); a
# character n-gram is hashed over the word with a boundary marker on each side, with CHAR_SEED mixed in
HASH_BASE = 0x100000001B3  # odd, so invertible mod 2**64
LEN_MUL = 0x9E3779B97F4A7C15
NGRAM_MUL = 0xD6E8FEB86659FD93
CHAR_SEED = 0x2545F4914F6CDD1D
BOUNDARY = 0x110001  # above every codepoint + 1
_U64 = np.uint64


def is_word_char(ch: str) -> bool:
    """A letter or digit of any script (str.isalnum), "_", or a combining mark (so that Devanagari, Tamil
    or Thai words are not cut at their vowel signs)."""
    return ch.isalnum() or ch == "_" or unicodedata.category(ch) in ("Mn", "Mc", "Me")


@functools.cache
def _codepoint_classes() -> np.ndarray:
    """The class of every codepoint 0..0x10FFFF (_NONWORD, _WORD or _SINGLE); built once per process."""
    table = np.fromiter((is_word_char(chr(c)) for c in range(0x110000)), dtype=np.uint8, count=0x110000)
    for lo, hi in _CJK_RANGES:
        table[lo:hi + 1] = _SINGLE
    return table


@functools.cache
def word_pattern() -> str:
    """The same words as a regular expression (for the pure-Python reference and the scikit-learn anchor)."""
    word = _codepoint_classes() == _WORD
    extra = [c for c in np.flatnonzero(word).tolist() if not (chr(c).isalnum() or c == 0x5F)]  # not \\w
    runs, start = [], None
    for i, c in enumerate(extra):  # consecutive codepoints -> ranges
        if start is None:
            start = c
        if i + 1 == len(extra) or extra[i + 1] != c + 1:
            runs.append(rf"\U{start:08x}-\U{c:08x}")
            start = None
    cjk = "".join(rf"\U{lo:08x}-\U{hi:08x}" for lo, hi in _CJK_RANGES)
    return rf"(?u)[{cjk}]|(?:[^\W{cjk}]|[{''.join(runs)}])+"


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (in place)."""
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


class _Powers:
    """HASH_BASE**i and HASH_BASE**-i mod 2**64 for i < n, grown on demand (shared by threads)."""

    def __init__(self) -> None:
        self.arrays = (np.ones(1, _U64), np.ones(1, _U64))

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        arrays = self.arrays
        if len(arrays[0]) < n:
            size = max(n, 2 * len(arrays[0]))
            inverse = pow(HASH_BASE, -1, 1 << 64)
            arrays = tuple(np.concatenate([[_U64(1)], np.cumprod(np.full(size - 1, b, _U64))])
                           for b in (HASH_BASE, inverse))
            self.arrays = arrays
        return arrays


_POWERS = _Powers()


@dataclass
class Featurized:
    """The features of a batch of documents: sparse (doc, column, value) triples (summed where a column
    repeats) and dense columns that follow the hashed ones."""

    n_docs: int
    doc: np.ndarray  # int64
    col: np.ndarray  # int64, < n_features
    value: np.ndarray  # float64
    dense: np.ndarray  # (n_docs, n_dense) float64

    def matrix(self, n_features: int):
        """A scipy CSR matrix of n_features + n_dense columns (the training input)."""
        import scipy.sparse as sp

        hashed = sp.csr_matrix((self.value, (self.doc, self.col)), shape=(self.n_docs, n_features))
        return sp.hstack([hashed, sp.csr_matrix(self.dense)], format="csr")

    def logits(self, weights: np.ndarray, bias: float) -> np.ndarray:
        """features . weights + bias per document, without building the matrix."""
        n_hashed = len(weights) - self.dense.shape[1]
        out = np.bincount(self.doc, weights=self.value * weights[:n_hashed][self.col], minlength=self.n_docs)
        return out + self.dense @ weights[n_hashed:] + bias


class HashedFeatures:
    """Texts -> hashed word n-gram (and optionally character n-gram) features, vectorised with numpy.

    Per batch the documents (lowercased, cut to max_chars) are joined into one array of codepoints; a
    lookup table classifies every codepoint, word boundaries come from its differences, every word is
    hashed from prefix sums of a polynomial hash, n-grams fold consecutive word hashes of one document.
    Term frequencies (tf: raw counts, binary or 1 + log) are L2-normalised per n-gram order, so that the
    rarer bigram evidence is not drowned by unigrams (character n-grams are one more group). One dense
    column: the fraction of distinct word n-grams of the highest order in the document (low when a
    sentence repeats). Scoring needs no matrix: one weighted bincount per batch.
    """

    def __init__(self, config: FeatureConfig):
        self.config = config

    @property
    def n_dense(self) -> int:
        return 1 if self.config.repetition and self.config.word_ngrams else 0

    def batches(self, texts: list[str], max_docs: int = 256, max_chars: int = 1 << 20) -> Iterator[tuple[int, int]]:
        """(start, end) slices of at most max_docs documents and about max_chars characters (at least one
        document): small enough that the per-character arrays stay in cache, so that huge documents with
        max_chars=0 cannot blow up memory."""
        start, size, limit = 0, 0, self.config.max_chars
        for i, t in enumerate(texts):
            size += min(len(t), limit) if limit else len(t)
            if i + 1 - start == max_docs or size >= max_chars:
                yield start, i + 1
                start, size = i + 1, 0
        if start < len(texts):
            yield start, len(texts)

    def transform(self, texts: list[str]) -> Featurized:
        c = self.config
        lowered = [(t[:c.max_chars] if c.max_chars else t).lower() for t in texts]
        joined = "\n" + "\n".join(lowered) + "\n"  # a separator before, between and after the documents
        cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
        doc_start = np.cumsum(lengths + 1) - lengths
        cls = _codepoint_classes()[cp]
        word = cls == _WORD
        edges = np.diff(word.view(np.int8))
        starts, ends = np.flatnonzero(edges == 1) + 1, np.flatnonzero(edges == -1) + 1
        single = np.flatnonzero(cls == _SINGLE)
        pw, ipw = _POWERS.get(len(cp) + 1)
        groups: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes, docs) per normalisation group
        if c.word_ngrams > 0:
            s, e = starts, ends
            if len(single):
                s, e = np.concatenate([starts, single]), np.concatenate([ends, single + 1])
                order = np.argsort(s, kind="stable")
                s, e = s[order], e[order]
            prefix = np.zeros(len(cp) + 1, _U64)
            np.cumsum((cp + _U64(1)) * pw[:len(cp)], out=prefix[1:])
            h = (prefix[e] - prefix[s]) * ipw[s]
            h ^= (e - s).astype(_U64) * _U64(LEN_MUL)
            mix64(h)
            docs = np.searchsorted(doc_start, s, side="right") - 1
            groups.append((h, docs))
            g = h
            for n in range(2, c.word_ngrams + 1):
                m = len(h) - n + 1
                g = g[:-1] * _U64(NGRAM_MUL) + h[n - 1:] if m > 0 else h[:0]
                mix64(g)
                same = docs[:max(m, 0)] == docs[n - 1:]
                groups.append((g[same], docs[:max(m, 0)][same]))
        if c.char_max > 0:
            groups.append(self._char_ngrams(cp, word, starts, ends, doc_start, pw, ipw))
        return self._count(groups, len(texts))

    def _char_ngrams(self, cp, word, starts, ends, doc_start, pw, ipw) -> tuple[np.ndarray, np.ndarray]:
        """Character n-grams of every word run (not of CJK characters), with a boundary marker around it."""
        c = self.config
        values = np.where(word, cp + _U64(1), _U64(BOUNDARY))
        prefix = np.zeros(len(cp) + 1, _U64)
        np.cumsum(values * pw[:len(cp)], out=prefix[1:])
        word_docs = np.searchsorted(doc_start, starts, side="right") - 1
        hashes, docs = [], []
        for n in range(c.char_min, c.char_max + 1):
            counts = np.maximum(ends - starts + 3 - n, 0)  # windows over [start - 1, end + 1)
            total = int(counts.sum())
            first = np.repeat(starts - 1, counts)
            first += np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            h = (prefix[first + n] - prefix[first]) * ipw[first]
            h ^= _U64((n * LEN_MUL ^ CHAR_SEED) & ((1 << 64) - 1))
            hashes.append(mix64(h))
            docs.append(np.repeat(word_docs, counts))
        return np.concatenate(hashes), np.concatenate(docs)

    def _count(self, groups: list[tuple[np.ndarray, np.ndarray]], n_docs: int) -> Featurized:
        c = self.config
        shift = c.n_features.bit_length() - 1
        out_doc, out_col, out_value = [], [], []
        dense = np.ones((n_docs, self.n_dense))
        for i, (h, docs) in enumerate(groups):
            keys = (docs << shift) | (h & _U64(c.n_features - 1)).astype(np.int64)
            keys, counts = np.unique(keys, return_counts=True)
            doc, col = keys >> shift, keys & (c.n_features - 1)
            value = (np.ones(len(counts)) if c.tf == "binary" else
                     1.0 + np.log(counts) if c.tf == "log" else counts.astype(np.float64))
            if c.norm == "order":
                value /= np.sqrt(np.bincount(doc, weights=value * value, minlength=n_docs))[doc]
            out_doc.append(doc), out_col.append(col), out_value.append(value)
            if self.n_dense and i == c.word_ngrams - 1:
                total = np.bincount(docs, minlength=n_docs)
                np.divide(np.bincount(doc, minlength=n_docs), total, out=dense[:, 0], where=total > 0)
        doc, value = np.concatenate(out_doc), np.concatenate(out_value)
        if c.norm == "joint":
            value /= np.sqrt(np.bincount(doc, weights=value * value, minlength=n_docs))[doc]
        return Featurized(n_docs, doc, np.concatenate(out_col), value, dense)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))


@dataclass
class TextClassifier:
    """A saved linear classifier: P(positive | text) = sigmoid(w . features(text) + b)."""

    features: FeatureConfig
    weights: np.ndarray  # (n_features,) float32
    bias: float
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._featurizer = HashedFeatures(self.features)

    def logits(self, texts: list[str]) -> np.ndarray:
        """w . features + b per text, float64 (ranks documents where probabilities saturate at 1)."""
        out = np.empty(len(texts))
        for i, j in self._featurizer.batches(texts):
            out[i:j] = self._featurizer.transform(texts[i:j]).logits(self.weights, self.bias)
        return out

    def scores(self, texts: list[str]) -> np.ndarray:
        """P(positive) per text, float32."""
        return sigmoid(self.logits(texts)).astype(np.float32)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".model.npz.tmp.npz"
        np.savez_compressed(tmp, weights=self.weights.astype(np.float32), bias=np.float32(self.bias))
        tmp.replace(folder / "model.npz")
        write_json(folder / "meta.json", {**artifact_meta(FORMAT, VERSION), **self.meta,
                                          "features": asdict(self.features)})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TextClassifier:
        folder = Path(folder)
        if not (folder / "meta.json").is_file() or not (folder / "model.npz").is_file():
            raise UserError(f"{folder}: not a roots classifier (needs model.npz + meta.json; "
                            "train one with `roots classify train`)")
        meta = read_json(folder / "meta.json")
        if meta.get("format") != FORMAT or meta.get("format_version") != VERSION:
            raise UserError(f"{folder}: format {meta.get('format')} v{meta.get('format_version')}, "
                            f"expected {FORMAT} v{VERSION} (features changed: retrain with `roots classify train`)")
        with np.load(folder / "model.npz", allow_pickle=False) as z:
            weights, bias = z["weights"], float(z["bias"])
        features = FeatureConfig(**meta["features"])
        n_columns = features.n_features + HashedFeatures(features).n_dense
        if weights.shape != (n_columns,):
            raise UserError(f"{folder}: weights of shape {weights.shape} do not match {n_columns} feature columns")
        return cls(features, weights, bias, meta)


# ------------------------------------------------------------------------------------------- training


@dataclass
class ClassifyTrainConfig:
    """Train a text classifier from positive and negative corpora."""

    positives: list[str] = field(metadata={"help": "documents of the kind to keep: files, folders, globs "
                                                   "(curated shards, JSONL, Parquet, text)"})
    negatives: list[str] = field(metadata={"help": "documents of the kind to drop (e.g. raw crawl)"})
    output: Path = field(metadata={"help": "model folder (model.npz + meta.json)"})
    holdout: float = field(default=0.1, metadata={"help": "fraction of each class held out for the report"})
    max_docs: int = field(default=0, metadata={"help": "read at most N documents per class (0: all)"})
    epochs: int = field(default=30, metadata={"help": "passes of SGD over the training documents"})
    alpha: float = field(default=1e-6, metadata={"help": "L2 regularisation strength"})
    threshold: float = field(default=0.5, metadata={"help": "decision threshold of the held-out report"})
    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)


def read_texts(inputs: list[str], limit: int = 0) -> tuple[list[str], Counter]:
    """The texts of every document under `inputs` (any format roots curate reads), with skip counts."""
    from roots.data.readers import expand_inputs, reader_for

    texts: list[str] = []
    skipped: Counter = Counter()
    for i, path in enumerate(expand_inputs(inputs)):
        for doc in reader_for(path).read(path, skipped, index=i):
            texts.append(doc.text)
            if limit and len(texts) >= limit:
                return texts, skipped
    return texts, skipped


def binary_report(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the positive class, and accuracy (eval.classification's metrics)."""
    from roots.eval.classification import classification_metrics

    if not len(labels):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0, "docs": 0}
    names = np.where(np.asarray(labels, bool), "positive", "negative").tolist()
    metrics = classification_metrics(names, np.where(np.asarray(predicted, bool), "positive", "negative").tolist(),
                                     labels=["positive", "negative"])
    positive = metrics["per_class"]["positive"]
    return {"precision": positive["precision"], "recall": positive["recall"], "f1": positive["f1"],
            "accuracy": metrics["accuracy"], "docs": len(names)}


def fit(positives: list[str], negatives: list[str], features: FeatureConfig, holdout: float = 0.1,
        epochs: int = 30, alpha: float = 1e-6, seed: int = 0, threshold: float = 0.5) -> TextClassifier:
    """Train on all but a held-out fraction of each class; the held-out report goes into `meta`."""
    from sklearn.linear_model import SGDClassifier

    if not positives or not negatives:
        raise UserError(f"need documents of both classes; got {len(positives)} positive, "
                        f"{len(negatives)} negative")
    if not 0 <= holdout < 1:
        raise UserError(f"--holdout must be in [0, 1), got {holdout}")
    rng = random.Random(seed)
    train, test = [], []
    for label, texts in ((True, positives), (False, negatives)):
        order = list(range(len(texts)))
        rng.shuffle(order)
        n_test = round(len(texts) * holdout)
        test += [(texts[i], label) for i in order[:n_test]]
        train += [(texts[i], label) for i in order[n_test:]]
    rng.shuffle(train)
    import scipy.sparse as sp

    featurizer = HashedFeatures(features)
    texts = [t for t, _ in train]
    x = sp.vstack([featurizer.transform(texts[i:j]).matrix(features.n_features)
                   for i, j in featurizer.batches(texts)], format="csr")
    y = np.array([lab for _, lab in train])
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, class_weight="balanced",
                          random_state=seed)
    model.fit(x, y)
    classifier = TextClassifier(features, model.coef_[0].astype(np.float32), float(model.intercept_[0]))
    report: dict[str, Any] = {"train_docs": len(train), "heldout_docs": len(test), "threshold": threshold}
    if test:
        scores = classifier.scores([t for t, _ in test])
        report["heldout"] = binary_report(np.array([lab for _, lab in test]), scores >= threshold)
    classifier.meta = {"learner": "sklearn SGDClassifier(loss=log_loss)", "epochs": epochs, "alpha": alpha,
                       "seed": seed, "report": report}
    return classifier


def train(config: ClassifyTrainConfig) -> int:
    start = time.perf_counter()
    positives, pos_skipped = read_texts(config.positives, config.max_docs)
    negatives, neg_skipped = read_texts(config.negatives, config.max_docs)
    for what, skipped in (("positives", pos_skipped), ("negatives", neg_skipped)):
        if skipped:
            print(f"classify: skipped in {what}: " + ", ".join(f"{k}: {v}" for k, v in skipped.items()),
                  file=sys.stderr)
    classifier = fit(positives, negatives, config.features, config.holdout, config.epochs, config.alpha,
                     config.seed, config.threshold)
    classifier.meta.update(positives=config.positives, negatives=config.negatives)
    classifier.save(config.output)
    write_run_record(config.output, "classify_train", config, report=classifier.meta["report"])
    held = classifier.meta["report"].get("heldout")
    summary = (f"held-out precision {held['precision']:.3f}, recall {held['recall']:.3f}, F1 {held['f1']:.3f} "
               f"on {held['docs']} docs" if held else "no held-out documents")
    print(f"classify train: {len(positives)} positive, {len(negatives)} negative docs; {summary} "
          f"({time.perf_counter() - start:.0f}s) -> {config.output}")
    return 0


# ------------------------------------------------------------------------------------- the curate step


@dataclass
class QualityClassifier(Step):
    """Score every document with a `roots classify train` model; keep by threshold or by top fraction.

    The score goes into `metadata[score_key]` of every kept document. With `top_fraction` > 0 (DCLM kept
    the top 10%), the step first scores the whole corpus and keeps documents at or above that quantile
    (of the logits, which still rank documents whose probability rounds to 1).
    """

    name = "quality_classifier"
    model: str = ""
    threshold: float = 0.5
    top_fraction: float = 0.0
    score_key: str = "quality_score"

    def __post_init__(self) -> None:
        if not self.model:
            raise UserError("quality_classifier: give the model folder (quality_classifier.model=PATH), "
                            "trained with `roots classify train`")
        if not 0 <= self.top_fraction <= 1:
            raise UserError(f"quality_classifier: top_fraction must be in [0, 1], got {self.top_fraction}")
        self._classifier: TextClassifier | None = None
        self._cutoff: float | None = None
        self._pending: dict[int, float] = {}  # id(doc) -> logit, filled a batch ahead by `run`

    @property
    def needs_corpus(self) -> bool:  # type: ignore[override]
        return self.top_fraction > 0

    def setup(self) -> None:
        if self._classifier is None:
            self._classifier = TextClassifier.load(self.model)

    def __getstate__(self) -> dict[str, Any]:  # workers load the model themselves
        return {**self.__dict__, "_classifier": None, "_pending": {}}

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1, executor: Any = None) -> None:
        from roots.data.corpus import iter_shard

        self.setup()
        logits = np.concatenate([self._score_all(iter_shard(s)) for s in shards] or [np.empty(0)])
        self._cutoff = float(np.quantile(logits, 1 - self.top_fraction)) if len(logits) else math.inf
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(work_dir) / "cutoff.json", {"top_fraction": self.top_fraction, "cutoff_logit": self._cutoff,
                                                    "cutoff": float(sigmoid(np.float64(self._cutoff))),
                                                    "docs": len(logits), "model": self.model})

    def _score_all(self, docs: Iterable[Document], batch: int = 1024) -> np.ndarray:
        assert self._classifier is not None
        parts, texts = [], []
        for doc in docs:
            texts.append(doc.text)
            if len(texts) == batch:
                parts.append(self._classifier.logits(texts))
                texts = []
        if texts:
            parts.append(self._classifier.logits(texts))
        return np.concatenate(parts) if parts else np.empty(0)

    def run(self, docs: Iterable[Document], stats: Any, rejects: Any = None) -> Iterator[Document]:
        """Score documents in batches (one sparse mat-vec per batch), then let the base class count."""
        return super().run(self._prescored(docs), stats, rejects)

    def _prescored(self, docs: Iterable[Document], batch_size: int = 256) -> Iterator[Document]:
        self.setup()
        assert self._classifier is not None
        batch: list[Document] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == batch_size:
                yield from self._score_batch(batch)
                batch = []
        yield from self._score_batch(batch)

    def _score_batch(self, batch: list[Document]) -> list[Document]:
        if batch:
            assert self._classifier is not None
            logits = self._classifier.logits([d.text for d in batch])
            self._pending.update((id(d), float(x)) for d, x in zip(batch, logits))
        return batch

    def process(self, doc: Document) -> str | None:
        logit = self._pending.pop(id(doc), None)
        if logit is None:  # called directly, outside `run`
            self.setup()
            assert self._classifier is not None
            logit = float(self._classifier.logits([doc.text])[0])
        score = float(sigmoid(np.float64(logit)))
        doc.metadata[self.score_key] = round(score, 6)
        if self.top_fraction > 0:
            if self._cutoff is None:
                raise RuntimeError("quality_classifier: top_fraction needs the corpus pass (prepare) first")
            return None if logit >= self._cutoff else "quality_classifier_below_top_fraction"
        return None if score >= self.threshold else "quality_classifier_low_score"
