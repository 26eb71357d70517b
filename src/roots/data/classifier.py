"""`roots classify train` and the `quality_classifier` step: a fast linear text classifier (DCLM /
FineWeb-Edu style quality filtering).

Features are hashed word n-grams and character n-grams (scikit-learn's HashingVectorizer: stateless, so
the saved model is just the weight vector plus the feature settings); the learner is scikit-learn's
logistic-loss SGD. Scoring is one sparse matrix-vector product per batch. The model is saved as
`model.npz` (weights) + `meta.json` (format, version, feature settings, held-out metrics); never pickle.
"""

from __future__ import annotations

import math
import random
import sys
import time
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
# a word is a run of word characters, except that each CJK character (Chinese, Japanese kana) is a word
# of its own, so that word bigrams over unsegmented Chinese are character bigrams
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_PATTERN = rf"(?u)[{_CJK}]|[^\W{_CJK}]+"
VERSION = 1


@dataclass
class FeatureConfig:
    """Hashed n-gram features; the same settings are used to train and to score."""

    n_features: int = field(default=2**20, metadata={"help": "hash buckets (a power of two)"})
    word_ngrams: int = field(default=2, metadata={"help": "word 1..N-grams (0: none)"})
    char_min: int = field(default=3, metadata={"help": "shortest character n-gram (inside word boundaries)"})
    char_max: int = field(default=0, metadata={
        "help": "longest character n-gram (0: none; on the controlled set they cost 5x the time and lowered F1)"})
    max_chars: int = field(default=4000, metadata={"help": "read at most this many characters of a document "
                                                           "(0: all); the head says most about its quality"})

    def __post_init__(self) -> None:
        if self.n_features < 2 or self.n_features & (self.n_features - 1):
            raise UserError(f"features.n_features must be a power of two, got {self.n_features}")
        if self.word_ngrams <= 0 and self.char_max <= 0:
            raise UserError("features: give word n-grams, character n-grams or both")
        if self.char_max and not 1 <= self.char_min <= self.char_max:
            raise UserError(f"features: need 1 <= char_min <= char_max, got {self.char_min}, {self.char_max}")


class HashedFeatures:
    """Texts -> L2-normalised sparse rows of hashed word and character n-gram counts."""

    def __init__(self, config: FeatureConfig):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.config = config
        common = dict(n_features=config.n_features, alternate_sign=False, norm=None, lowercase=True,
                      dtype=np.float32)
        self.vectorizers = []
        if config.word_ngrams > 0:
            self.vectorizers.append(HashingVectorizer(analyzer="word", token_pattern=WORD_PATTERN,
                                                      ngram_range=(1, config.word_ngrams), **common))
        if config.char_max > 0:
            self.vectorizers.append(HashingVectorizer(analyzer="char_wb", ngram_range=(config.char_min,
                                                                                      config.char_max), **common))

    def transform(self, texts: list[str]):
        from sklearn.preprocessing import normalize

        limit = self.config.max_chars
        texts = [t[:limit] for t in texts] if limit else texts
        x = self.vectorizers[0].transform(texts)
        for v in self.vectorizers[1:]:
            x = x + v.transform(texts)
        return normalize(x, copy=False)


@dataclass
class TextClassifier:
    """A saved linear classifier: P(positive | text) = sigmoid(w . features(text) + b)."""

    features: FeatureConfig
    weights: np.ndarray  # (n_features,) float32
    bias: float
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._featurizer = HashedFeatures(self.features)

    def scores(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        """P(positive) per text, float32."""
        out = np.empty(len(texts), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            logits = self._featurizer.transform(texts[i:i + batch_size]) @ self.weights + self.bias
            out[i:i + batch_size] = 1.0 / (1.0 + np.exp(-logits))
        return out

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
                            f"expected {FORMAT} v{VERSION}")
        with np.load(folder / "model.npz", allow_pickle=False) as z:
            weights, bias = z["weights"], float(z["bias"])
        features = FeatureConfig(**meta["features"])
        if weights.shape != (features.n_features,):
            raise UserError(f"{folder}: weights of shape {weights.shape} do not match "
                            f"{features.n_features} features")
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
    alpha: float = field(default=1e-5, metadata={"help": "L2 regularisation strength"})
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
    """Precision, recall and F1 of the positive class, and accuracy."""
    tp = int(np.sum(predicted & labels))
    fp = int(np.sum(predicted & ~labels))
    fn = int(np.sum(~predicted & labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0, "docs": len(labels)}


def fit(positives: list[str], negatives: list[str], features: FeatureConfig, holdout: float = 0.1,
        epochs: int = 30, alpha: float = 1e-5, seed: int = 0, threshold: float = 0.5) -> TextClassifier:
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
    featurizer = HashedFeatures(features)
    x = featurizer.transform([t for t, _ in train])
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
    the top 10%), the step first scores the whole corpus and keeps documents at or above that quantile.
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
        self._pending: dict[int, float] = {}  # id(doc) -> score, filled a batch ahead by `run`

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
        scores = np.concatenate([self._score_all(iter_shard(s)) for s in shards] or [np.empty(0, np.float32)])
        self._cutoff = float(np.quantile(scores, 1 - self.top_fraction)) if len(scores) else math.inf
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(work_dir) / "cutoff.json", {"top_fraction": self.top_fraction, "cutoff": self._cutoff,
                                                    "docs": len(scores), "model": self.model})

    def _score_all(self, docs: Iterable[Document], batch: int = 1024) -> np.ndarray:
        assert self._classifier is not None
        parts, texts = [], []
        for doc in docs:
            texts.append(doc.text)
            if len(texts) == batch:
                parts.append(self._classifier.scores(texts))
                texts = []
        if texts:
            parts.append(self._classifier.scores(texts))
        return np.concatenate(parts) if parts else np.empty(0, np.float32)

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
            scores = self._classifier.scores([d.text for d in batch])
            self._pending.update((id(d), float(s)) for d, s in zip(batch, scores))
        return batch

    def process(self, doc: Document) -> str | None:
        score = self._pending.pop(id(doc), None)
        if score is None:  # called directly, outside `run`
            self.setup()
            assert self._classifier is not None
            score = float(self._classifier.scores([doc.text])[0])
        doc.metadata[self.score_key] = round(score, 6)
        if self.top_fraction > 0:
            if self._cutoff is None:
                raise RuntimeError("quality_classifier: top_fraction needs the corpus pass (prepare) first")
            return None if score >= self._cutoff else "quality_classifier_below_top_fraction"
        return None if score >= self.threshold else "quality_classifier_low_score"
