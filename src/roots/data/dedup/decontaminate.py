"""Test-set decontamination: training documents that share too many 13-grams with an evaluation
document are dropped or flagged (MassiveText: 13-gram Jaccard > 0.8 against the evaluation sets).

Evaluation files: JSONL (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`; one document per record, its `text`
field) or plain text (`.txt`, `.gz`, ...; one document per non-empty line, as WikiText and LAMBADA
are distributed). Their n-gram hashes, with the evaluation document each belongs to, form a sorted
index; a training document is scored against every evaluation document it shares an n-gram with:

    jaccard      |A ∩ B| / |A ∪ B|   (MassiveText; near-copies of a whole evaluation document)
    containment  |A ∩ B| / |B|       (how much of the evaluation document the training text contains)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from roots.common.errors import UserError
from roots.common.io import atomic_write, open_text, write_json
from roots.common.records import artifact_meta
from roots.data.base import Step
from roots.data.dedup.text import Normalization, text_shingles
from roots.data.document import Document
from roots.data.executors import Executor

log = logging.getLogger(__name__)


def read_eval_texts(path: str | Path) -> list[str]:
    """The documents of one evaluation file (see the module docstring for the formats)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"decontaminate: evaluation file not found: {path}")
    texts = []
    with open_text(path) as f:
        if ".jsonl" in path.name:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    texts.append(str(json.loads(line)["text"]))
                except (ValueError, KeyError, TypeError) as e:
                    raise UserError(f"decontaminate: {path}:{n}: expected a JSON record with a 'text' field") from e
        else:
            texts = [line.strip() for line in f if line.strip()]
    return texts


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the evaluation documents with the document each comes from."""

    hashes: np.ndarray  # (M,) uint64, sorted
    doc: np.ndarray  # (M,) int32 evaluation document of each hash
    sizes: np.ndarray  # (D,) distinct n-grams per evaluation document
    file_of_doc: np.ndarray  # (D,) int32 index into `files`
    files: list[str]

    @classmethod
    def build(cls, files: list[str], ngram: int, normalization: Normalization) -> EvalIndex:
        hashes, docs, sizes, file_of_doc = [], [], [], []
        for f_index, path in enumerate(files):
            for text in read_eval_texts(path):
                grams = np.unique(text_shingles(text, ngram, normalization))
                if len(grams) == 0:
                    continue
                hashes.append(grams)
                docs.append(np.full(len(grams), len(sizes), dtype=np.int32))
                sizes.append(len(grams))
                file_of_doc.append(f_index)
        if not hashes:
            raise UserError(f"decontaminate: no evaluation text with words in {files}")
        hashes_all, docs_all = np.concatenate(hashes), np.concatenate(docs)
        order = np.argsort(hashes_all, kind="stable")
        return cls(hashes_all[order], docs_all[order], np.array(sizes, dtype=np.int64),
                   np.array(file_of_doc, dtype=np.int32), [str(f) for f in files])

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as f:
            np.savez(f, hashes=self.hashes, doc=self.doc, sizes=self.sizes, file_of_doc=self.file_of_doc,
                     files=np.array(self.files))

    @classmethod
    def load(cls, path: Path) -> EvalIndex:
        z = np.load(path)
        return cls(z["hashes"], z["doc"], z["sizes"], z["file_of_doc"], z["files"].tolist())

    def best_match(self, grams: np.ndarray, metric: str) -> tuple[float, int]:
        """(score, evaluation document) of the closest evaluation document to the distinct n-grams `grams`."""
        lo = np.searchsorted(self.hashes, grams, side="left")
        hi = np.searchsorted(self.hashes, grams, side="right")
        hit = hi > lo
        if not hit.any():
            return 0.0, -1
        lo, counts = lo[hit], (hi - lo)[hit]
        # positions lo[i] .. hi[i]-1 of every matching n-gram, flattened
        pos = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        eval_docs, shared = np.unique(self.doc[pos], return_counts=True)
        sizes = self.sizes[eval_docs]
        scores = shared / (sizes if metric == "containment" else len(grams) + sizes - shared)
        best = int(np.argmax(scores))
        return float(scores[best]), int(eval_docs[best])


@dataclass
class Decontaminate(Step):
    """Drop (or flag in `metadata["contamination"]`) documents too close to an evaluation document.

    The evaluation sets are the user's: without `eval_files` the step cannot run, so the recipe fails
    before any work, or, where the recipe marks the step `optional: true` (massivetext), it is flagged
    NOT APPLIED in stats.json, run.json, the report and the CLI summary. Fill them in with
    `roots curate ... --set decontaminate.eval_files=A,B`.
    """

    name: ClassVar[str] = "decontaminate"
    needs_corpus: ClassVar[bool] = True  # builds its evaluation index once in `prepare`
    eval_files: list[str] = field(default_factory=list)
    ngram: int = 13
    threshold: float = 0.8
    metric: Literal["jaccard", "containment"] = "jaccard"
    mode: Literal["drop", "flag"] = "drop"
    normalization: Normalization = "full"

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1 or self.metric not in ("jaccard", "containment"):
            raise UserError("decontaminate: threshold must be in (0, 1] and metric jaccard or containment")
        if self.mode not in ("drop", "flag"):
            raise UserError(f"decontaminate: mode must be drop or flag, not {self.mode!r}")

    def missing_inputs(self) -> str | None:
        if not self.eval_files:
            return ("no evaluation sets to check against; pass --set decontaminate.eval_files=FILE[,FILE...] "
                    "(JSONL with a text field, or text with one document per line)")
        return None

    def prepare(self, shards: list[Path], work_dir: Path, workers: int = 1,
                executor: Executor | None = None) -> None:
        if not self.eval_files:
            log.warning("decontaminate: no evaluation files given, so no document is checked; pass "
                        "--set decontaminate.eval_files=FILE[,FILE...] to check against your test sets")
            return
        self._index_path = Path(work_dir) / "eval_index.npz"
        meta = {**artifact_meta("roots.dedup.eval_index", 1), "eval_files": self.eval_files,
                "ngram": self.ngram, "normalization": self.normalization}
        meta_path = Path(work_dir) / "meta.json"
        same = meta_path.exists() and all(
            json.loads(meta_path.read_text()).get(k) == meta[k] for k in ("eval_files", "ngram", "normalization"))
        if not (same and self._index_path.exists()):
            EvalIndex.build(self.eval_files, self.ngram, self.normalization).save(self._index_path)
            write_json(meta_path, meta)

    def setup(self) -> None:
        if not self.eval_files:
            self._index = None
            return
        path = getattr(self, "_index_path", None)
        self._index = (EvalIndex.load(path) if path is not None and path.exists()
                       else EvalIndex.build(self.eval_files, self.ngram, self.normalization))

    def process(self, doc: Document) -> str | None:
        if not hasattr(self, "_index"):
            self.setup()
        if self._index is None:
            return None
        grams = np.unique(text_shingles(doc.text, self.ngram, self.normalization))
        if len(grams) == 0:
            return None
        score, eval_doc = self._index.best_match(grams, self.metric)
        if score < self.threshold or (score == self.threshold and self.metric == "jaccard"):
            return None  # MassiveText: Jaccard strictly above the threshold
        if self.mode == "drop":
            return "eval_contamination"
        eval_file = self._index.files[int(self._index.file_of_doc[eval_doc])]
        doc.metadata["contamination"] = {"eval_file": Path(eval_file).name, "eval_doc": eval_doc,
                                         self.metric: round(score, 4)}
        return None


def decontaminate(texts: list[str], eval_files: list[str], **params) -> list[float]:
    """The best score of each text against the evaluation files (in-memory, same code as the step)."""
    step = Decontaminate(eval_files=eval_files, **params)
    step.setup()
    scores = []
    for text in texts:
        grams = np.unique(text_shingles(text, step.ngram, step.normalization))
        scores.append(step._index.best_match(grams, step.metric)[0] if len(grams) else 0.0)
    return scores
