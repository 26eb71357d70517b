"""Task evaluation from JSONL, in lm-evaluation-harness's shape.

A task is a YAML file (or `TaskConfig`) naming a JSONL file of documents and Jinja2 templates.
Four output types, as in lm-eval:
- `multiple_choice`: log-likelihood of each choice after the prompt; acc and length-normalized acc_norm
  (log-likelihood per byte of the choice, lm-eval's normalization);
- `loglikelihood`: log-likelihood of the target and whether it is the greedy continuation;
- `loglikelihood_rolling`: perplexity of whole documents (word perplexity, bits per byte);
- `generate_until`: generated text scored by exact match, BLEU, chrF or ROUGE.
A model is anything with lm-eval's three request methods (`LanguageModel` below); roots models get an
adapter in `roots.eval.lm`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from roots.common.config import from_dict, load_yaml
from roots.common.errors import UserError
from roots.common.io import open_text
from roots.eval.fewshot import FewShotPrompt, render

OutputType = Literal["multiple_choice", "loglikelihood", "loglikelihood_rolling", "generate_until"]


class LanguageModel(Protocol):
    """The three request types of lm-evaluation-harness."""

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): summed log-prob (nats) of continuation, and is-greedy."""

    def loglikelihood_rolling(self, texts: list[str]) -> list[float]:
        """Summed log-prob (nats) of each whole text."""

    def generate_until(self, requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Greedy continuation of each context, cut at the first `until` string."""


@dataclass
class TaskConfig:
    """One evaluation task (field names follow lm-eval's task YAML)."""

    task: str
    data: str = field(metadata={"help": "JSONL file of documents (relative paths: from the YAML's folder)"})
    output_type: OutputType = "multiple_choice"
    doc_to_text: str = "{{question}}"
    doc_to_target: str = "{{answer}}"
    doc_to_choice: str | None = field(default=None, metadata={"help": "field or template giving the choices"})
    fewshot_data: str | None = None
    num_fewshot: int = 0
    description: str = ""
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    until: list[str] = field(default_factory=lambda: ["\n\n"])
    max_gen_toks: int = 64
    metrics: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int = 1234


DEFAULT_METRICS = {
    "multiple_choice": ["acc", "acc_norm"],
    "loglikelihood": ["perplexity", "acc"],
    "loglikelihood_rolling": ["word_perplexity", "byte_perplexity", "bits_per_byte"],
    "generate_until": ["exact_match"],
}


def load_task(path: str | Path, **overrides: Any) -> TaskConfig:
    path = Path(path)
    data = {**load_yaml(path), **{k: v for k, v in overrides.items() if v is not None}}
    config = from_dict(TaskConfig, data, where=str(path))
    for name in ("data", "fewshot_data"):
        value = getattr(config, name)
        if value and not Path(value).is_absolute():
            setattr(config, name, str(path.parent / value))
    return config


def read_docs(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    if not Path(path).exists():
        raise UserError(f"task data not found: {path}")
    docs = []
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{n}: not valid JSON ({e.msg})") from e
            if limit is not None and len(docs) >= limit:
                break
    if not docs:
        raise UserError(f"{path}: no documents")
    return docs


def _choices(config: TaskConfig, doc: dict[str, Any]) -> list[str]:
    if config.doc_to_choice is None:
        raise UserError(f"task {config.task}: multiple_choice needs doc_to_choice")
    value = render(config.doc_to_choice, doc)
    if isinstance(value, str):  # a template rendering a list literal
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            import ast

            value = ast.literal_eval(value)
    return [str(c) for c in value]


def _gold_index(target: str, choices: list[str]) -> int:
    if target in choices:
        return choices.index(target)
    if target.strip().isdigit() and int(target) < len(choices):
        return int(target)
    raise UserError(f"target {target!r} is neither a choice nor a choice index ({choices})")


def evaluate_task(model: LanguageModel, config: TaskConfig) -> dict[str, Any]:
    """Run one task; returns {"metrics": {...}, "n": docs, "samples": first few prompts and outputs}."""
    docs = read_docs(config.data, config.limit)
    pool = read_docs(config.fewshot_data) if config.fewshot_data else docs
    prompt = FewShotPrompt(config.doc_to_text, config.doc_to_target, config.num_fewshot, config.description,
                           config.target_delimiter, config.fewshot_delimiter, config.seed)
    contexts = [] if config.output_type == "loglikelihood_rolling" else _contexts(config, prompt, docs, pool)
    metrics_wanted = config.metrics or DEFAULT_METRICS[config.output_type]
    samples: list[dict[str, Any]] = []

    if config.output_type == "multiple_choice":
        per_doc = [_choices(config, d) for d in docs]
        requests = [(ctx, config.target_delimiter + c) for ctx, cs in zip(contexts, per_doc) for c in cs]
        results = model.loglikelihood(requests)
        acc = acc_norm = 0.0
        k = 0
        for doc, ctx, choices in zip(docs, contexts, per_doc):
            lls = [ll for ll, _ in results[k:k + len(choices)]]
            k += len(choices)
            gold = _gold_index(prompt.target(doc), choices)
            norm = [ll / max(len((config.target_delimiter + c).encode()), 1) for ll, c in zip(lls, choices)]
            acc += float(max(range(len(lls)), key=lls.__getitem__) == gold)
            acc_norm += float(max(range(len(norm)), key=norm.__getitem__) == gold)
            if len(samples) < 5:
                samples.append({"prompt": ctx, "choices": choices, "loglikelihoods": lls, "gold": gold})
        metrics = {"acc": acc / len(docs), "acc_norm": acc_norm / len(docs)}
    elif config.output_type == "loglikelihood":
        targets = [config.target_delimiter + prompt.target(d) for d in docs]
        results = model.loglikelihood(list(zip(contexts, targets)))
        total_ll = sum(ll for ll, _ in results)
        total_bytes = sum(len(t.encode()) for t in targets)
        metrics = {"acc": sum(g for _, g in results) / len(docs),
                   "perplexity": math.exp(-total_ll / len(docs)),
                   "bits_per_byte": -total_ll / total_bytes / math.log(2)}
        samples = [{"prompt": c, "target": t, "loglikelihood": r[0], "greedy": r[1]}
                   for c, t, r in list(zip(contexts, targets, results))[:5]]
    elif config.output_type == "loglikelihood_rolling":
        texts = [str(render(config.doc_to_target, d)) for d in docs]
        lls = model.loglikelihood_rolling(texts)
        nll = -sum(lls)
        words = sum(len(t.split()) for t in texts)
        nbytes = sum(len(t.encode()) for t in texts)
        metrics = {"word_perplexity": math.exp(nll / max(words, 1)),
                   "byte_perplexity": math.exp(nll / max(nbytes, 1)),
                   "bits_per_byte": nll / max(nbytes, 1) / math.log(2)}
    else:
        gen_kwargs = {"until": config.until, "max_gen_toks": config.max_gen_toks}
        outputs = model.generate_until([(c, gen_kwargs) for c in contexts])
        references = [prompt.target(d) for d in docs]
        metrics = _generation_metrics(outputs, references, metrics_wanted)
        samples = [{"prompt": c, "output": o, "reference": r}
                   for c, o, r in list(zip(contexts, outputs, references))[:5]]
    return {"task": config.task, "output_type": config.output_type, "num_fewshot": config.num_fewshot,
            "n": len(docs), "metrics": {k: v for k, v in metrics.items() if k in metrics_wanted} or metrics,
            "samples": samples}


def _contexts(config: TaskConfig, prompt: FewShotPrompt, docs: list[dict], pool: list[dict]) -> list[str]:
    import jinja2

    contexts = []
    for i, doc in enumerate(docs):
        try:
            contexts.append(prompt.build(doc, pool, i))
        except jinja2.TemplateError as e:
            raise UserError(f"task {config.task}, document {i}: template error: {e}") from e
    return contexts


def _generation_metrics(outputs: list[str], references: list[str], wanted: list[str]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if "exact_match" in wanted:
        metrics["exact_match"] = sum(o.strip() == r.strip() for o, r in zip(outputs, references)) / len(outputs)
    if "bleu" in wanted or "chrf" in wanted:
        from roots.eval.mt import mt_scores

        chosen = [m for m in ("bleu", "chrf") if m in wanted]
        for name, entry in mt_scores([o.strip() for o in outputs], [references], chosen).items():
            metrics[name] = entry["score"]
    if any(m.startswith("rouge") for m in wanted):
        from roots.eval.rouge import rouge_scores

        types = [m for m in wanted if m.startswith("rouge")]
        for name, s in rouge_scores(outputs, [references], types, tokenizer="unicode").items():
            metrics[name] = s["fmeasure"]
    return metrics
