"""`roots ablate`: which recipe gives the better model? The FineWeb team's question, as one command.

Curate the same crawl with each recipe, train the same small model for the same number of tokens on
each result, and evaluate every model on the same held-out text in bits per byte (each recipe trains
its own tokenizer, and bits per byte does not depend on the tokenizer). Writes a comparison table,
plots and a report; `ablation.json` links each recipe's data run -> tokenizer -> model -> eval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import atomic_write, open_text, read_json, write_json
from roots.common.records import write_run_record
from roots.workflows import stages


@dataclass
class AblateConfig:
    """Compare curation recipes by the quality of identical small models trained on their output."""

    input: list[str] = field(metadata={"help": "the crawl: files, folders or globs (several, or comma-separated)"})
    eval: str = field(metadata={"help": "held-out evaluation text (.txt/.gz/.zst), e.g. WikiText-2 valid"})
    recipes: list[str] = field(default_factory=lambda: ["refinedweb", "massivetext", "roots"])
    output: Path = field(default=Path("ablation"), metadata={"help": "output folder (reruns resume)"})
    workers: int = 2
    vocab_size: int = 4096
    model: str = field(default="gpt2-micro", metadata={"help": "model preset, the same for every recipe"})
    block_size: int = 128
    batch_size: int = 16
    train_steps: int = field(default=300, metadata={"help": "the same steps (= tokens) for every recipe"})
    lr: float = 2e-3
    eval_max_bytes: int = field(default=200_000, metadata={"help": "score at most this much of --eval"})
    seed: int = 1337


PROMPT = "The history of the city"


def _eval_texts(path: str, max_bytes: int) -> list[str]:
    """The evaluation text as paragraphs (blank-line separated), up to `max_bytes`."""
    if not Path(path).is_file():
        raise UserError(f"evaluation text not found: {path}")
    with open_text(path) as f:
        text = f.read()
    paragraphs, used = [], 0
    for p in text.split("\n\n"):
        if not p.strip():
            continue
        paragraphs.append(p)
        used += len(p.encode())
        if max_bytes and used >= max_bytes:
            break
    if not paragraphs:
        raise UserError(f"{path} holds no text")
    return paragraphs


def ablate(config: AblateConfig) -> int:
    from roots.eval.perplexity import UNITS as PERPLEXITY_UNITS
    from roots.eval.report import write_report
    from roots.model.io import open_run

    if not config.recipes:
        raise UserError("give at least one recipe (--recipes refinedweb,massivetext,roots)")
    out = config.output
    out.mkdir(parents=True, exist_ok=True)
    eval_texts = _eval_texts(config.eval, config.eval_max_bytes)
    tokens_per_model = config.train_steps * config.batch_size * config.block_size
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for recipe in config.recipes:
        base = out / recipe
        t0 = time.perf_counter()
        stats = stages.curate(recipe, config.input, base / "curated", config.workers)
        if stats["output"]["docs"] == 0:
            raise UserError(f"recipe {recipe} kept no documents of {config.input}; nothing to train on")
        stages.train_tokenizer(base / "curated", base / "tokenizer", config.vocab_size)
        shards = stages.tokenize(base / "tokenizer", base / "curated", base / "shards", 0.1, val_split="tail")
        result, n_params = stages.train(base / "shards", base / "run", config.model, config.block_size,
                                        config.batch_size, config.train_steps, config.lr,
                                        eval_every=config.train_steps, seed=config.seed)
        loaded = open_run(base / "run", device="cpu")
        metrics = stages.perplexity_on_texts(loaded, eval_texts, stride=config.block_size // 2).to_dict()
        write_report(base / "eval", "perplexity", metrics,
                     {"model": str(loaded.checkpoint), "eval_text": config.eval, "paragraphs": len(eval_texts),
                      "context": loaded.context, "stride": config.block_size // 2}, units=PERPLEXITY_UNITS)
        sample = stages.samples(loaded, [PROMPT], 40, seed=config.seed)[0]
        train_tokens = shards["splits"]["train"]["tokens"]
        rows.append({
            "recipe": recipe, "docs_in": stats["reader"]["docs"], "docs_kept": stats["output"]["docs"],
            "chars_kept": stats["output"]["chars"], "train_tokens": train_tokens,
            "epochs": tokens_per_model / max(train_tokens, 1), "params": n_params,
            "val_loss": result["best_val_loss"], "bits_per_byte": metrics["bits_per_byte"],
            "word_perplexity": metrics["word_perplexity"], "sample": sample[0] + sample[1],
            "links": {"data": str(base / "curated"), "tokenizer": str(base / "tokenizer"),
                      "shards": str(base / "shards"), "model": str(base / "run"), "eval": str(base / "eval")},
        })
        print(f"[{recipe}] {rows[-1]['docs_kept']}/{rows[-1]['docs_in']} docs kept, {train_tokens:,} train tokens, "
              f"{metrics['bits_per_byte']:.4f} bits/byte on the eval text ({time.perf_counter() - t0:.0f}s)")

    write_json(out / "ablation.json", {"eval": config.eval, "tokens_per_model": tokens_per_model,
                                       "model": config.model, "results": rows})
    _write_table(out / "ablation.md", rows, config, tokens_per_model)
    page = _write_report(out, rows, config, tokens_per_model)
    write_run_record(out, "ablate", config, results=[{k: r[k] for k in ("recipe", "bits_per_byte")} for r in rows])
    best = min(rows, key=lambda r: r["bits_per_byte"])
    print(f"ablate: {len(rows)} recipes in {time.perf_counter() - start:.0f}s; best {best['recipe']} "
          f"({best['bits_per_byte']:.4f} bits/byte) -> {out / 'ablation.md'}, {page}")
    return 0


def _write_table(path: Path, rows: list[dict], config: AblateConfig, tokens: int) -> None:
    lines = [f"# Recipe ablation: {config.model}, {tokens:,} training tokens each, eval on {config.eval}", "",
             "| recipe | docs kept | train tokens | epochs | best val loss (nats/token) | eval bits/byte | "
             "eval word ppl |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["bits_per_byte"]):
        lines.append(f"| {r['recipe']} | {r['docs_kept']}/{r['docs_in']} | {r['train_tokens']:,} | {r['epochs']:.1f} | "
                     f"{r['val_loss']:.4f} | {r['bits_per_byte']:.4f} | {r['word_perplexity']:.1f} |")
    lines += ["", "Lower bits/byte is better. Validation loss is on each recipe's own held-out tail and is not "
              "comparable across recipes (different data, different tokenizers); bits/byte on the shared "
              "eval text is."]
    with atomic_write(path) as f:
        f.write("\n".join(lines) + "\n")


def _write_report(out: Path, rows: list[dict], config: AblateConfig, tokens: int) -> Path:
    from roots.model.io import open_run
    from roots.train.metrics import read_metrics
    from roots.workflows.figures import comparison_bars, loss_curves
    from roots.workflows.inspect import draw_attention
    from roots.workflows.report import Section, write_html_report

    figures = out / "figures"
    names = [r["recipe"] for r in rows]
    bpb_png = comparison_bars(names, [r["bits_per_byte"] for r in rows], figures / "bits_per_byte.png",
                              "bits/byte (lower is better)", f"held-out {Path(config.eval).name}")
    loss_png = loss_curves({r["recipe"]: read_metrics(Path(r["links"]["model"]) / "metrics.jsonl") for r in rows},
                           figures / "loss.png")
    best = min(rows, key=lambda r: r["bits_per_byte"])
    attn_png = draw_attention(open_run(best["links"]["model"], device="cpu"), PROMPT + " grew quickly.",
                              figures / "attention.png")
    funnels = []
    for r in rows:
        stats = read_json(Path(r["links"]["data"]) / "stats.json")
        funnels.append(Section(f"Funnel: {r['recipe']}", tables=[(["step", "in", "out", "drops"], [
            [s["name"] + (" (NOT APPLIED)" if s.get("not_applied") else ""), s["docs_in"], s["docs_out"], ", ".join(f"{k}: {v}" for k, v in s["dropped"].items())]
            for s in stats["steps"]])], figures=[(Path(r["links"]["data"]) / "funnel.png", f"{r['recipe']} funnel")]
            if (Path(r["links"]["data"]) / "funnel.png").exists() else []))
    sections = [
        Section("Result", [f"Same model ({config.model}), same {tokens:,} training tokens, same evaluation text; "
                           "lower bits/byte is better."],
                tables=[(["recipe", "docs kept", "train tokens", "epochs", "eval bits/byte", "eval word ppl"],
                         [[r["recipe"], f"{r['docs_kept']}/{r['docs_in']}", r["train_tokens"], r["epochs"],
                           r["bits_per_byte"], r["word_perplexity"]] for r in rows])],
                figures=[(bpb_png, "bits per byte on the evaluation text")]),
        Section("Loss curves", figures=[(loss_png, "training (line) and validation (markers) loss per recipe")]),
        *funnels,
        Section("Samples", [f"Prompt: {PROMPT!r}, temperature 0.8, top-k 50."],
                samples=[(f"[{r['recipe']}] ", r["sample"]) for r in rows]),
        Section(f"Attention of the best model ({best['recipe']})", figures=[(attn_png, "rows = layers, columns = heads")]),
    ]
    return write_html_report(out / "report.html", "roots recipe ablation", sections,
                             subtitle=f"crawl: {', '.join(config.input)}")
