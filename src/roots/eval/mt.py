"""BLEU, chrF and TER through sacrebleu, the reference implementation (signature always reported).

BLEU's tokenizer follows the target language as sacrebleu's CLI does for `-l xx-zh` (zh), `xx-ja`
(ja-mecab) and `xx-ko` (ko-mecab), 13a otherwise; the target language is `--target-lang` or, when not
given, detected from the references' script (Han, kana, Hangul). `--tokenize` overrides both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from roots.common.errors import UserError
from roots.eval.report import write_report
from roots.eval.textfiles import check_aligned, read_lines

Metric = Literal["bleu", "chrf", "ter"]


@dataclass
class MTEvalConfig:
    """Corpus-level MT metrics on line-aligned files (several references allowed)."""

    hyp: str = field(metadata={"help": "hypothesis file, one segment per line (.gz/.zst ok)"})
    ref: list[str] = field(metadata={"help": "reference file(s), comma-separated"})
    metrics: list[Metric] = field(default_factory=lambda: ["bleu", "chrf"])
    tokenize: str | None = field(default=None, metadata={
        "help": "sacrebleu BLEU tokenizer (13a, zh, intl, ...); default: the target language's, as sacrebleu -l"})
    target_lang: str | None = field(default=None, metadata={
        "help": "target language (zh, ja, ko pick sacrebleu's tokenizer for it); default: detected from the "
                "references' script"})
    lowercase: bool = False
    chrf_word_order: int = field(default=0, metadata={"help": "2 for chrF++"})
    output: str | None = field(default=None, metadata={"help": "folder for REPORT.json / REPORT.md"})


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")


def detect_target_lang(refs: list[list[str]], sample_chars: int = 200_000) -> str | None:
    """zh, ja or ko when the references are mostly written in that script, else None (13a is right).

    Japanese: kana make up >= 10% of the CJK characters; Korean: Hangul is >= 30% of the letters;
    Chinese: Han is >= 30% of the letters (and no kana to speak of).
    """
    text = "".join(line for ref in refs for line in ref)[:sample_chars]
    letters = len(_LETTER.findall(text))
    if not letters:
        return None
    han, kana, hangul = len(_HAN.findall(text)), len(_KANA.findall(text)), len(_HANGUL.findall(text))
    if hangul >= 0.3 * letters:
        return "ko"
    if han + kana >= 0.3 * letters:
        return "ja" if kana >= 0.1 * (han + kana) else "zh"
    return None


def _bleu(tokenize: str | None, target_lang: str | None, lowercase: bool):
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(tokenize=tokenize, lowercase=lowercase, trg_lang=target_lang or "")
    except (ImportError, RuntimeError) as e:  # ja-mecab / ko-mecab need MeCab and its dictionary
        tok = tokenize or BLEU._TOKENIZER_MAP.get(target_lang or "", "13a")
        raise UserError(f"BLEU tokenizer {tok!r} for target language {target_lang!r} needs sacrebleu's extra "
                        f"(pip install 'sacrebleu[{(target_lang or 'ja')[:2]}]'), or pass --tokenize 13a|char|spm: "
                        f"{e}") from e


def mt_scores(hyps: list[str], refs: list[list[str]], metrics: list[str] = ("bleu", "chrf"),
              tokenize: str | None = None, lowercase: bool = False, chrf_word_order: int = 0,
              target_lang: str | None = None) -> dict[str, dict]:
    """Corpus scores: {metric: {"score", "signature", ...}} on sacrebleu's 0-100 scale.

    `target_lang` None: detected from the references (`detect_target_lang`); "" turns detection off.
    """
    from sacrebleu.metrics import CHRF, TER

    check_aligned(hyps, refs, [f"reference {i + 1}" for i in range(len(refs))])
    if target_lang is None:
        target_lang = detect_target_lang(refs)
    out: dict[str, dict] = {}
    for name in metrics:
        if name == "bleu":
            metric = _bleu(tokenize, target_lang, lowercase)
        elif name == "chrf":
            metric = CHRF(word_order=chrf_word_order, lowercase=lowercase)
        else:
            metric = TER(case_sensitive=not lowercase)
        score = metric.corpus_score(hyps, refs)
        entry = {"score": score.score, "signature": str(metric.get_signature()), "text": str(score)}
        if name == "bleu":
            entry.update(bp=score.bp, precisions=list(score.precisions), sys_len=score.sys_len,
                         ref_len=score.ref_len)
        if target_lang:
            entry["target_lang"] = target_lang
        out[name] = entry
    return out


def evaluate_mt(config: MTEvalConfig) -> dict[str, dict]:
    """`roots eval bleu|chrf|ter`: print each score with its sacrebleu signature."""
    hyps = read_lines(config.hyp)
    refs = [read_lines(r) for r in config.ref]
    scores = mt_scores(hyps, refs, config.metrics, config.tokenize, config.lowercase, config.chrf_word_order,
                       config.target_lang)
    detected = next((v["target_lang"] for v in scores.values() if "target_lang" in v), None)
    if detected and not config.target_lang:
        print(f"target language {detected} (detected from the references; --target-lang to set it)")
    for name, entry in scores.items():
        print(f"{name.upper():5s} {entry['score']:.2f}  {entry['signature']}")
    if config.output:
        path = write_report(config.output, "mt", {k: v["score"] for k, v in scores.items()},
                            {"hyp": config.hyp, "ref": config.ref, "target_lang": config.target_lang or detected,
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
