"""The `roots` command: one subcommand per stage, generated from typed configs.

Each subcommand is a function `run(config: SomeConfig)` in its stage package. Its flags are the
config dataclass's fields (nested ones dotted), `--config FILE.yaml` loads a saved config and flags
override it. Modules are imported only when their command runs, so `roots --help` is instant and a
missing optional dependency only affects the commands that need it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import typing
from collections.abc import Callable
from typing import Any

from roots.common.config import add_arguments, from_args, load_yaml
from roots.common.errors import UserError, explain

# command words -> ("module:function", one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("roots.workflows.quickstart:quickstart",
                   "the whole job on a built-in corpus that works offline"),
    "curate": ("roots.data.pipeline:curate", "run a curation recipe over WARC/WET/JSONL/Parquet/text inputs"),
    "report": ("roots.data.report:run", "(re)write a curation run's funnel report (report.html, funnel.png)"),
    "lists": ("roots.data.lists:show", "the published word/domain lists a recipe uses: entries, source, license, sha256"),
    "lists update": ("roots.data.lists:update", "fetch a published list (ut1) from its pinned URL, verify, cache"),
    "lm train": ("roots.data.lm:train",
                 "train an n-gram LM (modified Kneser-Ney, ARPA) for perplexity filtering"),
    "classify train": ("roots.data.classifier:train",
                       "a hashed n-gram linear classifier (quality filter) from positive and negative corpora"),
    "tokenizer train": ("roots.tokenizer.train:run",
                        "train a BPE / WordPiece / Unigram / char tokenizer (HF tokenizers) on a corpus"),
    "tokenize": ("roots.tokenizer.shards:run",
                 "encode a corpus into train/val token shards (.bin + meta.json)"),
    "train": ("roots.train.trainer:train", "train a language model on token shards (resumable)"),
    "finetune": ("roots.workflows.finetune:finetune",
                 "fine-tune a model on JSONL task data: full, LoRA, prefix or prompt tuning"),
    "generate": ("roots.workflows.generate:generate", "continue a prompt with a trained model"),
    "eval perplexity": ("roots.eval.lm:perplexity_run",
                        "sliding-window perplexity of a model on text: nats/token, bits/byte, word ppl"),
    "eval task": ("roots.eval.lm:task_run", "an lm-eval-style task (YAML + JSONL) on a roots model"),
    "eval bleu": ("roots.eval.mt:bleu", "corpus BLEU (sacrebleu) of a hypothesis file against references"),
    "eval chrf": ("roots.eval.mt:chrf", "corpus chrF / chrF++ (sacrebleu)"),
    "eval ter": ("roots.eval.mt:ter", "corpus TER (sacrebleu)"),
    "eval rouge": ("roots.eval.rouge:rouge", "ROUGE-1/2/L/Lsum (rouge-score), files or JSONL fields"),
    "eval classification": ("roots.eval.classification:classification",
                            "accuracy, P/R/F1 (macro, micro, per class), confusion matrix"),
    "export hf": ("roots.export.hf:run_export",
                  "a checkpoint as a Hugging Face transformers folder (GPT-2, Llama, BERT or BART), logits verified"),
    "import hf": ("roots.export.hf:run_import",
                  "a local Hugging Face GPT-2 / Llama / BERT / BART folder as a roots checkpoint"),
    "serve": ("roots.serve.server:serve", "OpenAI-compatible API server + playground over a model"),
    "ablate": ("roots.workflows.ablate:ablate",
               "curate one crawl with several recipes, train identical models, compare bits/byte"),
    "inspect attention": ("roots.workflows.inspect:inspect_attention",
                          "attention heatmaps (every layer and head) of a model on a prompt"),
    "inspect embeddings": ("roots.workflows.inspect:inspect_embeddings",
                           "nearest neighbours of a token or sentence in a model's embedding space"),
}


def _resolve(target: str) -> Callable[..., Any]:
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        raise UserError(
            f"this command needs the optional dependency {missing!r}; install roots with "
            f"`pip install -e '.[all]'`"
        ) from e
    return getattr(module, attr)


def _config_class(fn: Callable[..., Any]) -> type:
    hints = typing.get_type_hints(fn)
    params = [p for p in fn.__code__.co_varnames[: fn.__code__.co_argcount]]
    return hints[params[0]]


def _print_overview() -> None:
    print("usage: roots COMMAND [options] [--debug]   (roots COMMAND --help for the options of each; --debug or "
          "ROOTS_DEBUG=1 shows the traceback of an error)\n")
    print("commands:")
    width = max((len(k) for k in COMMANDS), default=0)
    for words, (_, help_text) in COMMANDS.items():
        print(f"  {words:<{width}}  {help_text}")


def _match(argv: list[str]) -> tuple[str, list[str]] | None:
    """Longest command (possibly several words, e.g. `tokenizer train`) that prefixes argv."""
    for n in (3, 2, 1):
        words = " ".join(argv[:n])
        if len(argv) >= n and words in COMMANDS:
            return words, argv[n:]
    return None


def _output_of(config: Any) -> str:
    """The command's output path (named in an error that carries none, like a failed write)."""
    for name in ("output", "out_dir", "out"):
        if isinstance(getattr(config, name, None), (str, os.PathLike)):
            return str(getattr(config, name))
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ROOTS_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        _print_overview()
        return 0
    if argv[0] in ("-V", "--version"):
        from roots import __version__

        print(f"roots {__version__}")
        return 0
    matched = _match(argv)
    if matched is None:
        groups = sorted({k.split()[0] for k in COMMANDS if k.startswith(argv[0] + " ")})
        if groups:
            print(f"roots {argv[0]}: choose one of: " + ", ".join(
                k for k in COMMANDS if k.startswith(argv[0] + " ")), file=sys.stderr)
        else:
            print(f"roots: unknown command {argv[0]!r}\n", file=sys.stderr)
            _print_overview()
        return 2
    words, rest = matched
    target, help_text = COMMANDS[words]
    config = None
    try:
        fn = _resolve(target)
        cls = _config_class(fn)
        parser = argparse.ArgumentParser(prog=f"roots {words}", description=help_text,
                                         argument_default=argparse.SUPPRESS)
        parser.add_argument("--config", default=None, metavar="FILE.yaml",
                            help="a saved config; flags given here override its values")
        add_arguments(parser, cls)
        args = parser.parse_args(rest)
        base = load_yaml(args.config) if args.config else {}
        config = from_args(cls, args, base=base)
        result = fn(config)
    except KeyboardInterrupt:
        print(f"roots {words}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:
        explained = explain(e, _output_of(config))
        if explained is None:  # a bug: its traceback is what a report needs
            raise
        if debug:
            traceback.print_exc()
        code, line = explained
        print(f"roots {words}: error: {line}", file=sys.stderr)
        return code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
