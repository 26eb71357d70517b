"""`RootsLM`: a roots checkpoint + tokenizer behind lm-evaluation-harness's three request types.

The conventions follow lm-eval's `hf` backend so scores compare with published numbers: a context and
its continuation are encoded together and split where the context's tokens end (trailing spaces of the
context move to the continuation), inputs are left-truncated to the model's context, an empty context
is replaced by the prefix token, and rolling log-likelihoods use disjoint windows after a prefix token.
Roots models see EOS at the start of every training document, so by default contexts are also prefixed
with EOS (`prefix_eos=True`); `prefix_eos=False` reproduces lm-eval's `hf` backend exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from roots.common.errors import UserError
from roots.eval.perplexity import sequence_nll

LogitsFn = Callable[[torch.Tensor], torch.Tensor]  # (B, T) int64 -> (B, T, V)


def _batches(items: list[Any], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


class RootsLM:
    """lm-eval's `LanguageModel` protocol over any causal LM given as a logits function."""

    def __init__(self, logits_fn: LogitsFn, encode: Callable[[str], list[int]],
                 decode: Callable[[list[int]], str], eos_id: int, context: int, device: str = "cpu",
                 batch_size: int = 16, prefix_eos: bool = True,
                 sampler: Callable[[torch.Tensor, int], Iterator[torch.Tensor]] | None = None):
        self.logits_fn, self.encode, self.decode, self.sampler = logits_fn, encode, decode, sampler
        self.eos_id, self.context, self.device = eos_id, context, device
        self.batch_size, self.prefix_eos = batch_size, prefix_eos

    @classmethod
    def from_checkpoint(cls, model: str | os.PathLike, tokenizer: str | os.PathLike | None = None,
                        device: str = "auto", **kwargs: Any) -> RootsLM:
        """Load a roots checkpoint (or run folder) and its tokenizer (recorded in the run unless given)."""
        from roots.model.io import open_run
        from roots.model.sampling import sample

        run = open_run(model, tokenizer, device)
        tok = run.tokenizer

        def greedy(idx: torch.Tensor, n: int) -> Iterator[torch.Tensor]:
            return sample(run.model, idx, n, temperature=0.0)  # KV cache: one new position per step

        return cls(run.logits, tok.encode, tok.decode, run.eos_id, run.context, run.device, sampler=greedy,
                   **kwargs)

    # ---------------------------------------------------------------------------------- requests

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:  # "Answer: " + "Paris" scores " Paris", the way the tokenizer saw words in training
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        whole, ctx = self.encode(context + continuation), self.encode(context)
        return ctx, whole[len(ctx):]

    @torch.no_grad()
    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): summed log-prob (nats) of the continuation, and is-greedy."""
        encoded = []
        for context, continuation in requests:
            if context:
                ctx, cont = self._encode_pair(context, continuation)
                if self.prefix_eos:
                    ctx = [self.eos_id, *ctx]
            else:
                ctx, cont = [self.eos_id], self.encode(continuation)
            if not cont:
                raise UserError(f"empty continuation for context {context[-40:]!r}: nothing to score")
            encoded.append((ctx, cont))
        results: list[tuple[float, bool]] = [(0.0, False)] * len(encoded)
        # longest first, so a batch pads little and the first batch shows the memory peak
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]) - len(encoded[i][1]))
        for batch in _batches(order, self.batch_size):
            rows = [(encoded[i][0] + encoded[i][1])[-(self.context + 1):][:-1] for i in batch]
            x = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)  # right-padded (B, T)
            for r, row in enumerate(rows):
                x[r, :len(row)] = torch.tensor(row)
            logp = F.log_softmax(self.logits_fn(x.to(self.device)).float(), dim=-1)  # (B, T, V)
            for r, i in enumerate(batch):
                cont = encoded[i][1]
                end = len(rows[r])
                span = logp[r, end - len(cont):end]  # (n_cont, V): the positions predicting cont
                target = torch.tensor(cont, device=span.device)
                ll = span.gather(-1, target[:, None]).sum().item()
                results[i] = (ll, bool((span.argmax(-1) == target).all()))
        return results

    def loglikelihood_rolling(self, texts: list[str]) -> list[float]:
        """Summed log-prob (nats) of each whole text: disjoint windows of the model's context after EOS."""
        out = []
        for text in texts:
            ids = torch.tensor([self.eos_id, *self.encode(text)], dtype=torch.long, device=self.device)
            nll, _ = sequence_nll(self.logits_fn, ids, self.context, self.context, self.batch_size)
            out.append(-nll)
        return out

    @torch.no_grad()
    def generate_until(self, requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Greedy continuation of each context, cut before the first `until` string or at EOS.

        As in lm-eval, the context keeps its last `context - max_gen_toks` tokens so that the
        generation fits the model's window.
        """
        outputs = []
        for context, kwargs in requests:
            until = kwargs.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            max_new = min(int(kwargs.get("max_gen_toks", 256)), self.context - 1)
            ids = ([self.eos_id] if self.prefix_eos or not context else []) + self.encode(context)
            new: list[int] = []
            for token in self._greedy(ids[-(self.context - max_new):], max_new):
                if token == self.eos_id:
                    break
                new.append(token)
                if until and any(u in self.decode(new) for u in until):
                    break
            text = self.decode(new)
            for u in until:
                text = text.split(u)[0]
            outputs.append(text)
        return outputs

    def _greedy(self, ids: list[int], max_new: int) -> Iterator[int]:
        """Greedy next tokens after `ids`; a KV-cache sampler when one was given, else full recomputation."""
        if self.sampler is not None:
            prompt = torch.tensor([ids], dtype=torch.long, device=self.device)
            for token in self.sampler(prompt, max_new):
                yield int(token[0])
            return
        for _ in range(max_new):
            x = torch.tensor([ids], dtype=torch.long, device=self.device)
            token = int(self.logits_fn(x)[0, -1].argmax())
            ids = [*ids, token]
            yield token


# ------------------------------------------------------------------------------------------ CLI


@dataclass
class PerplexityConfig:
    """`roots eval perplexity`: sliding-window perplexity of a roots model on a text file or corpus."""

    model: str = field(metadata={"help": "roots checkpoint or run folder"})
    input: str = field(metadata={"help": "text file (.txt/.gz/.zst, scored as one sequence) or a roots "
                                         "corpus (folder or .jsonl[.zst] shards, each document scored)"})
    output: str = field(default="", metadata={"help": "report folder (default: MODEL/eval/perplexity-NAME)"})
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer folder (default: the run's)"})
    context: int = field(default=0, metadata={"help": "tokens of context per window (0: the model's)"})
    stride: int = field(default=0, metadata={"help": "new tokens scored per window (0: = context)"})
    batch_size: int = 8
    device: str = "auto"


def read_texts(path: str) -> list[str]:
    """The documents of a text file (one document, compressed or not), a curated corpus folder or one of its
    shards; local paths or URLs (docs/remote.md)."""
    from roots.common.io import exists, is_remote, list_files, open_text, redact
    from roots.data.corpus import SHARD_SUFFIXES, iter_corpus

    path = str(path)
    if not exists(path):
        raise UserError(f"input not found: {redact(path)}")
    folder = list_files(path) != [path] if is_remote(path) else Path(path).is_dir()
    if folder or path.rstrip("/").endswith(SHARD_SUFFIXES):
        texts = [doc.text for doc in iter_corpus(path)]
    else:
        with open_text(path) as f:
            texts = [f.read()]
    texts = [t for t in texts if t]
    if not texts:
        raise UserError(f"{redact(path)}: no text to score")
    return texts


def perplexity_run(config: PerplexityConfig) -> int:
    """Score the input, write REPORT.json/md, print the summary line."""
    from roots.common.records import write_run_record
    from roots.eval.perplexity import UNITS, texts_perplexity
    from roots.eval.report import write_report
    from roots.model.io import open_run

    loaded = open_run(config.model, config.tokenizer, config.device)
    context = config.context or loaded.context
    if context > loaded.context:
        raise UserError(f"--context {context} exceeds the model's context of {loaded.context} tokens")
    stride = config.stride or context
    texts = read_texts(config.input)
    total = texts_perplexity(loaded.logits, texts, loaded.tokenizer.encode, loaded.eos_id, context,
                             stride, config.batch_size, loaded.device, progress=True)
    out = Path(config.output or loaded.checkpoint / "eval" / f"perplexity-{Path(config.input).name}")
    settings = {"model": str(loaded.checkpoint), "input": config.input, "documents": len(texts),
                "context": context, "stride": stride, "prefix": "EOS", **loaded.info}
    write_report(out, "perplexity", total.to_dict(), settings, UNITS)
    write_run_record(out, "eval_perplexity", config)
    print(f"perplexity: {total.nats_per_token:.4f} nats/token, {total.bits_per_byte:.4f} bits/byte, "
          f"word ppl {total.word_perplexity:.2f} over {total.tokens} tokens -> {out}/REPORT.json")
    return 0


@dataclass
class TaskRunConfig:
    """`roots eval task`: an lm-evaluation-harness task YAML, run by lm-eval on a roots model."""

    model: str = field(metadata={"help": "roots checkpoint or run folder"})
    task: str = field(metadata={"help": "lm-eval task YAML (dataset_path json/csv/parquet + data_files)"})
    output: str = field(default="", metadata={"help": "report folder (default: MODEL/eval/task-NAME)"})
    tokenizer: str | None = None
    num_fewshot: int | None = field(default=None, metadata={"help": "override the task's num_fewshot"})
    limit: int | None = field(default=None, metadata={"help": "evaluate the first N documents only"})
    batch_size: int = 16
    prefix_eos: bool = field(default=True, metadata={"help": "prefix contexts with EOS (false: lm-eval hf)"})
    bootstrap_iters: int = field(default=1000, metadata={"help": "bootstrap samples for non-mean stderrs"})
    device: str = "auto"


def task_run(config: TaskRunConfig) -> int:
    from roots.common.records import write_run_record
    from roots.eval.report import write_report
    from roots.eval.tasks import evaluate_task, load_task

    task = load_task(config.task)
    lm = RootsLM.from_checkpoint(config.model, config.tokenizer, config.device, batch_size=config.batch_size,
                                 prefix_eos=config.prefix_eos)
    result = evaluate_task(lm, task, num_fewshot=config.num_fewshot, limit=config.limit,
                           bootstrap_iters=config.bootstrap_iters)
    out = Path(config.output or Path(config.model) / "eval" / f"task-{result['task']}")
    units = {k: "fraction" if k.startswith(("acc", "exact")) else "see name" for k in result["metrics"]}
    units.update({"word_perplexity": "exp(nats/word)", "byte_perplexity": "exp(nats/byte)",
                  "bits_per_byte": "bits/byte", "perplexity": "exp(nats/doc)"})
    settings = {"model": config.model, "task": config.task, "n": result["n"],
                "num_fewshot": result["num_fewshot"], "output_type": result["output_type"],
                "prefix_eos": config.prefix_eos, "evaluator": "lm-eval"}
    samples = "\n".join(f"- `{s}`" for s in result["samples"])
    write_report(out, f"task {result['task']}", result["metrics"], settings, units,
                 extra_md=f"## Samples\n\n{samples}" if samples else "")
    write_run_record(out, "eval_task", config)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items() if not k.endswith("_stderr"))
    print(f"task {result['task']}: {shown} over {result['n']} docs -> {out}/REPORT.json")
    return 0
