"""ROUGE through Google's rouge-score (the reference reimplementation of ROUGE-1.5.5).

rouge-score's default tokenizer keeps only [a-z0-9], which erases Chinese, Russian or Arabic text
entirely; `tokenizer="unicode"` keeps every script (words as Unicode \\w runs, CJK/Thai/Lao/Khmer
characters one token each, which is how ROUGE is usually computed for those languages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from roots.common.errors import UserError
from roots.eval.report import write_report
from roots.eval.textfiles import check_aligned, read_lines

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

# scripts written without spaces between words: one token per character
_CHAR_SCRIPTS = (
    "\u2e80-\u2fff\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\u0e00-\u0eff\u1780-\u17ff"
)
_UNICODE_TOKEN = re.compile(rf"[{_CHAR_SCRIPTS}]|[^\W{_CHAR_SCRIPTS}]+")
_SENTENCE_TAG = re.compile(r"\s*</?t>\s*")


class UnicodeTokenizer:
    """Lowercased Unicode word tokens; optional Porter stemming for Latin-script words."""

    def __init__(self, use_stemmer: bool = False):
        self.stemmer = None
        if use_stemmer:
            from nltk.stem import porter  # rouge-score depends on nltk; no data downloads needed

            self.stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        tokens = _UNICODE_TOKEN.findall(text.lower())
        if self.stemmer is not None:
            tokens = [self.stemmer.stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]
        return tokens


def split_sentences(text: str, mode: str) -> str:
    """rougeLsum scores summary-level LCS over sentences, which it reads as newline-separated lines."""
    if mode == "tags":  # <t> sentence </t> markup of CNN/DM pipelines
        parts = [p for p in _SENTENCE_TAG.split(text) if p.strip()]
        return "\n".join(parts)
    if mode == "punct":
        return "\n".join(s for s in re.split(r"(?<=[.!?。！？])\s+", text) if s.strip())
    return text


def rouge_scores(hyps: list[str], refs: list[list[str]], rouge_types: list[str] = ROUGE_TYPES,
                 use_stemmer: bool = False, tokenizer: str = "default", sentences: str = "none"
                 ) -> dict[str, dict[str, float]]:
    """Mean precision / recall / F-measure (0-1) per ROUGE type; with several references, each
    segment takes its best-matching reference (rouge-score's `score_multi`)."""
    from rouge_score import rouge_scorer

    unknown = set(rouge_types) - set(ROUGE_TYPES)
    if unknown:
        raise UserError(f"unknown ROUGE type(s) {sorted(unknown)}; choose from {list(ROUGE_TYPES)}")
    check_aligned(hyps, refs, [f"reference {i + 1}" for i in range(len(refs))])
    tok = UnicodeTokenizer(use_stemmer) if tokenizer == "unicode" else None
    scorer = rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=use_stemmer, tokenizer=tok)
    totals = {t: [0.0, 0.0, 0.0] for t in rouge_types}
    for i, hyp in enumerate(hyps):
        targets = [split_sentences(r[i], sentences) for r in refs]
        result = scorer.score_multi(targets, split_sentences(hyp, sentences))
        for t in rouge_types:
            s = result[t]
            totals[t][0] += s.precision
            totals[t][1] += s.recall
            totals[t][2] += s.fmeasure
    n = max(len(hyps), 1)
    return {t: {"precision": p / n, "recall": r / n, "fmeasure": f / n} for t, (p, r, f) in totals.items()}


@dataclass
class RougeConfig:
    """ROUGE on line-aligned files, or on fields of JSONL records (dotted paths)."""

    hyp: str = field(metadata={"help": "hypothesis file (one summary per line) or JSONL"})
    ref: list[str] = field(metadata={"help": "reference file(s), comma-separated"})
    hyp_field: str | None = field(default=None, metadata={"help": "JSONL field of the hypothesis, e.g. a.b"})
    ref_field: str | None = field(default=None, metadata={"help": "JSONL field of the reference"})
    rouge_types: list[str] = field(default_factory=lambda: list(ROUGE_TYPES))
    use_stemmer: bool = False
    tokenizer: Literal["default", "unicode"] = "default"
    sentences: Literal["none", "tags", "punct"] = field(
        default="none", metadata={"help": "sentence splitting for rougeLsum (tags = <t>...</t>)"})
    output: str | None = None


def rouge(config: RougeConfig) -> dict[str, dict[str, float]]:
    """`roots eval rouge`."""
    hyps = read_lines(config.hyp, config.hyp_field)
    refs = [read_lines(r, config.ref_field) for r in config.ref]
    scores = rouge_scores(hyps, refs, config.rouge_types, config.use_stemmer, config.tokenizer,
                          config.sentences)
    for t, s in scores.items():
        print(f"{t:9s} P {s['precision']:.4f}  R {s['recall']:.4f}  F {s['fmeasure']:.4f}")
    settings = {"hyp": config.hyp, "ref": config.ref, "stemmer": config.use_stemmer,
                "tokenizer": config.tokenizer, "sentences": config.sentences,
                "aggregation": "mean over segments; best reference per segment"}
    if config.output:
        print(f"wrote {write_report(config.output, 'rouge', scores, settings, {t: 'fraction (0-1)' for t in scores})}")
    print(f"scored {len(hyps)} summaries against {len(refs)} reference set(s)")
    return scores
