"""BLEU, chrF and TER through sacrebleu, the reference implementation (signature always reported)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roots.eval.report import write_report
from roots.eval.textfiles import check_aligned, read_lines

Metric = Literal["bleu", "chrf", "ter"]


@dataclass
class MTEvalConfig:
    """Corpus-level MT metrics on line-aligned files (several references allowed)."""

    hyp: str = field(metadata={"help": "hypothesis file, one segment per line (.gz/.zst ok)"})
    ref: list[str] = field(metadata={"help": "reference file(s), comma-separated"})
    metrics: list[Metric] = field(default_factory=lambda: ["bleu", "chrf"])
    tokenize: str | None = field(default=None, metadata={"help": "sacrebleu BLEU tokenizer (13a, zh, intl, ...)"})
    lowercase: bool = False
    chrf_word_order: int = field(default=0, metadata={"help": "2 for chrF++"})
    output: str | None = field(default=None, metadata={"help": "folder for REPORT.json / REPORT.md"})


def mt_scores(hyps: list[str], refs: list[list[str]], metrics: list[str] = ("bleu", "chrf"),
              tokenize: str | None = None, lowercase: bool = False, chrf_word_order: int = 0
              ) -> dict[str, dict]:
    """Corpus scores: {metric: {"score", "signature", ...}} on sacrebleu's 0-100 scale."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    check_aligned(hyps, refs, [f"reference {i + 1}" for i in range(len(refs))])
    out: dict[str, dict] = {}
    for name in metrics:
        if name == "bleu":
            metric = BLEU(tokenize=tokenize, lowercase=lowercase)
        elif name == "chrf":
            metric = CHRF(word_order=chrf_word_order, lowercase=lowercase)
        else:
            metric = TER(case_sensitive=not lowercase)
        score = metric.corpus_score(hyps, refs)
        entry = {"score": score.score, "signature": str(metric.get_signature()), "text": str(score)}
        if name == "bleu":
            entry.update(bp=score.bp, precisions=list(score.precisions), sys_len=score.sys_len,
                         ref_len=score.ref_len)
        out[name] = entry
    return out


def evaluate_mt(config: MTEvalConfig) -> dict[str, dict]:
    """`roots eval bleu|chrf|ter`: print each score with its sacrebleu signature."""
    hyps = read_lines(config.hyp)
    refs = [read_lines(r) for r in config.ref]
    scores = mt_scores(hyps, refs, config.metrics, config.tokenize, config.lowercase, config.chrf_word_order)
    for name, entry in scores.items():
        print(f"{name.upper():5s} {entry['score']:.2f}  {entry['signature']}")
    if config.output:
        path = write_report(config.output, "mt", {k: v["score"] for k, v in scores.items()},
                            {"hyp": config.hyp, "ref": config.ref,
                             **{f"{k}_signature": v["signature"] for k, v in scores.items()}},
                            units={k: "sacrebleu score, 0-100" for k in scores})
        print(f"wrote {path}")
    print(f"evaluated {len(hyps)} segments against {len(refs)} reference set(s)")
    return scores


def _with_metrics(config: MTEvalConfig, metrics: list[str]) -> MTEvalConfig:
    # `roots eval bleu` means BLEU unless --metrics was given explicitly
    if config.metrics == ["bleu", "chrf"]:
        config.metrics = metrics  # type: ignore[assignment]
    return config


def bleu(config: MTEvalConfig) -> dict:
    return evaluate_mt(_with_metrics(config, ["bleu"]))


def chrf(config: MTEvalConfig) -> dict:
    return evaluate_mt(_with_metrics(config, ["chrf"]))


def ter(config: MTEvalConfig) -> dict:
    return evaluate_mt(_with_metrics(config, ["ter"]))
