"""`roots ablate`: which recipe gives the better model? The FineWeb team's question, as one command.

Curate the same crawl with each arm (a recipe, optionally with step overrides), train the same small
model for the same number of tokens on each result with several seeds, and evaluate every model on the
same held-out texts in bits per byte. Every arm is tokenized by one shared tokenizer, as in FineWeb's and
DCLM's ablations: a tokenizer per arm would add a difference that no seed varies, so intervals over seeds
could not see it as noise. Each arm gets a mean and a 95% t interval over seeds, and its paired difference to the
baseline arm (seed i against seed i); a winner is only named when those intervals exclude 0. Writes a
comparison table, plots and a report; `ablation.json` links each arm's data run -> tokenizer -> models ->
evals.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import atomic_write, open_text, read_json, write_json
from roots.common.records import write_run_record
from roots.workflows import stages

DEFAULT_RECIPES = ["refinedweb", "massivetext", "roots"]
CONFIDENCE = 0.95
# Up to about 4 epochs, repeated data is worth nearly as much as new data; beyond, models memorise it and
# the returns fall off (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models"). Past this,
# ablate names no winner: the gap would measure how much text each arm kept, not how good it is.
MAX_EPOCHS = 4.0


@dataclass
class AblateConfig:
    """Compare curation recipes by the quality of identical small models trained on their output."""

    input: list[str] = field(metadata={"help": "the crawl: files, folders or globs (several, or comma-separated)"})
    eval: list[str] = field(metadata={
        "help": "held-out evaluation text(s) (.txt/.gz/.zst), e.g. WikiText-2 valid; repeat --eval for several, "
                "each its own column"})
    recipes: list[str] = field(default_factory=list, metadata={
        "help": "recipes compared as shipped (default: refinedweb, massivetext, roots when no --arm is given)"})
    arm: list[str] = field(default_factory=list, metadata={
        "help": "an arm = a recipe with overrides, NAME=RECIPE or NAME=RECIPE:STEP.PARAM=VALUE,... "
                "(repeat --arm), e.g. strict=refinedweb:langid.min_score=0.8"})
    baseline: str = field(default="", metadata={"help": "the arm the others are compared with (default: the first)"})
    seeds: int = field(default=3, metadata={"help": "models trained per arm (seeds seed, seed+1, ...); >= 2 for "
                                                    "intervals"})
    output: Path = field(default=Path("ablation"), metadata={"help": "output folder (reruns resume)"})
    workers: int = 2
    tokenizer: str = field(default="shared", metadata={
        "help": "'shared': one tokenizer, trained on the curated data of all arms together, for every arm; 'per-arm': "
                "each arm trains its own (their difference is then part of what is compared); or the folder of "
                "a roots tokenizer to use for every arm"})
    vocab_size: int = field(default=4096, metadata={"help": "vocabulary of the tokenizer(s) ablate trains"})
    model: str = field(default="gpt2-micro", metadata={"help": "model preset, the same for every arm"})
    block_size: int = 128
    batch_size: int = 16
    train_steps: int = field(default=200, metadata={"help": "the same steps (= tokens) for every arm"})
    lr: float = 2e-3
    eval_max_bytes: int = field(default=100_000, metadata={"help": "score at most this much of each --eval"})
    seed: int = field(default=1337, metadata={"help": "the first seed"})


PROMPT = "The history of the city"


@dataclass
class Arm:
    """One thing compared: a recipe plus `STEP.PARAM=VALUE` overrides."""

    name: str
    recipe: str
    overrides: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return self.recipe + (f" ({', '.join(self.overrides)})" if self.overrides else "")


_ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def parse_arms(items: list[str]) -> list[Arm]:
    """`--arm` values as arms. The CLI splits values on commas, so the pieces are put back together here:
    `NAME=RECIPE[:OVERRIDE]` starts an arm, `STEP.PARAM=VALUE` adds an override, and a piece without `=`
    continues the previous value (`langid.languages=en,fr`)."""
    arms: list[Arm] = []
    for raw in items:
        item = raw.strip()
        key = item.partition("=")[0]
        if "=" in item and "." not in key and ":" not in key:
            name, _, spec = item.partition("=")
            recipe, _, first = spec.partition(":")
            if not _ARM_NAME.match(name) or not recipe:
                raise UserError(f"--arm {raw!r}: expected NAME=RECIPE or NAME=RECIPE:STEP.PARAM=VALUE,... "
                                "(NAME: letters, digits, _ . + -)")
            arms.append(Arm(name, recipe, [first] if first else []))
        elif not arms:
            raise UserError(f"--arm {raw!r}: expected NAME=RECIPE or NAME=RECIPE:STEP.PARAM=VALUE,...")
        elif "=" in item:
            arms[-1].overrides.append(item)
        elif arms[-1].overrides:
            arms[-1].overrides[-1] += "," + item
        else:
            raise UserError(f"--arm {raw!r}: expected STEP.PARAM=VALUE after the recipe of arm {arms[-1].name!r}")
    return arms


def resolve_arms(config: AblateConfig) -> list[Arm]:
    """The arms of a run (recipes as they are, then --arm ones), checked before any work starts."""
    from roots.data.recipe import load_recipe

    arms = [Arm(r, r) for r in config.recipes] + parse_arms(config.arm)
    if not arms:
        arms = [Arm(r, r) for r in DEFAULT_RECIPES]
    names = [a.name for a in arms]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"arm names must be unique; repeated: {', '.join(dupes)} (name --arm NAME=RECIPE:...)")
    for a in arms:  # unknown recipes, steps or parameters fail now, not after hours of training
        load_recipe(a.recipe).with_overrides(a.overrides).build_steps()
    if config.baseline and config.baseline not in names:
        raise UserError(f"--baseline {config.baseline!r} is not an arm; arms: {', '.join(names)}")
    if config.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {config.seeds}")
    if config.tokenizer not in ("shared", "per-arm"):
        _given_tokenizer(config)
    return arms


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _eval_texts(path: str, max_bytes: int) -> list[str]:
    """The evaluation text as paragraphs (split at blank lines, which may hold spaces as in WikiText), up to
    `max_bytes` in all: the paragraph that crosses the limit is cut at its last line break before it."""
    if not Path(path).is_file():
        raise UserError(f"evaluation text not found: {path}")
    with open_text(path) as f:
        text = f.read()
    paragraphs, used = [], 0
    for p in _BLANK_LINE.split(text):
        if not p.strip():
            continue
        size = len(p.encode())
        if max_bytes and used + size > max_bytes:
            head = p.encode()[: max_bytes - used].decode("utf-8", errors="ignore")
            head = head[: head.rfind("\n")] if "\n" in head else head
            if head.strip():
                paragraphs.append(head)
            break
        paragraphs.append(p)
        used += size
    if not paragraphs:
        raise UserError(f"{path} holds no text")
    return paragraphs


def _eval_names(paths: list[str]) -> list[str]:
    """A short, unique column name per evaluation file (its file name, numbered when two clash)."""
    names: list[str] = []
    for p in paths:
        name = Path(p).name
        names.append(name if name not in names else f"{name}#{len(names) + 1}")
    return names


def compare(rows: list[dict[str, Any]], eval_names: list[str], baseline: str) -> dict[str, dict[str, Any]]:
    """Per evaluation set: every arm's mean bits/byte with its interval, its paired difference to `baseline`
    with a verdict, and the best arm, named only when it beats every other arm with intervals excluding 0
    and no arm trained more than MAX_EPOCHS over its data (then `withheld` says why)."""
    from roots.eval.stats import mean_interval, paired_difference

    out: dict[str, dict[str, Any]] = {}
    for ev in eval_names:
        values = {r["arm"]: [run["bits_per_byte"][ev] for run in r["runs"]] for r in rows}
        means = {a: mean_interval(v, CONFIDENCE) for a, v in values.items()}
        diffs = {}
        for a, v in values.items():
            d = paired_difference(v, values[baseline], CONFIDENCE)
            verdict = ("baseline" if a == baseline else "better" if d.excludes(0) and d.high < 0
                       else "worse" if d.excludes(0) else "not distinguishable")
            diffs[a] = {**d.to_dict(), "verdict": verdict}
        leader = min(means, key=lambda a: means[a].mean)
        clear = len(rows) > 1 and all(
            paired_difference(values[leader], values[a], CONFIDENCE).high < 0 for a in values if a != leader)
        epochs = max(r.get("epochs", 0.0) for r in rows)
        withheld = (f"arms trained up to {epochs:.1f} epochs over their data (more than {MAX_EPOCHS:g} repeats: "
                    "models memorise it), so the gap measures how much text each arm kept more than how good it "
                    "is; give more input or fewer --train-steps") if clear and epochs > MAX_EPOCHS else None
        out[ev] = {"arms": {a: m.to_dict() for a, m in means.items()}, "vs_baseline": diffs,
                   "leader": leader, "best": leader if clear and not withheld else None, "withheld": withheld}
    return out


def _warnings(rows: list[dict[str, Any]], config: AblateConfig, tokens: int) -> list[str]:
    warnings = []
    if config.seeds < 2:
        warnings.append("one seed per arm: no intervals, so no arm can be named best (use --seeds 3 or more)")
    for r in rows:
        if r["epochs"] > MAX_EPOCHS:
            warnings.append(
                f"{r['arm']}: {r['train_tokens']:,} training tokens, fewer than the {tokens:,} the budget asks; "
                f"each model trains {r['epochs']:.1f} epochs over its data and can memorise it, so gaps say "
                "little about the data and no winner is named (give more input or fewer --train-steps)")
        elif r["epochs"] > 1:
            warnings.append(
                f"{r['arm']}: {r['train_tokens']:,} training tokens, fewer than the {tokens:,} the budget asks; "
                f"each model sees its data {r['epochs']:.1f} times (up to {MAX_EPOCHS:g} repeats are worth nearly "
                "as much as new text; more input would make the comparison cleaner)")
    return warnings


def _verdict_line(ev: str, comparison: dict[str, Any], baseline: str) -> str:
    best, leader = comparison["best"], comparison["leader"]
    mean = comparison["arms"][leader]["mean"]
    if best:
        return (f"{ev}: best {best} ({mean:.4f} bits/byte); its paired differences to every other arm exclude 0 "
                f"({int(CONFIDENCE * 100)}% intervals)")
    if comparison.get("withheld"):
        return (f"{ev}: lowest mean {leader} ({mean:.4f} bits/byte), apart from every other arm, but no winner is "
                f"named: {comparison['withheld']}")
    vs = comparison["vs_baseline"]
    apart = [f"{a} {v['verdict']}" for a, v in vs.items() if v["verdict"] in ("better", "worse")]
    return (f"{ev}: the arms are not distinguishable at this budget (lowest mean {leader}, {mean:.4f} bits/byte)"
            + (f"; against {baseline}: " + ", ".join(apart) if apart else ""))


def _shared_tokenizer(config: AblateConfig, out: Path, arms: list[str]) -> Path | None:
    """The tokenizer every arm uses (None: one per arm); 'shared' trains it on all arms' data together, so
    that no arm's text (another language, code) is tokenized worse than the others'."""
    if config.tokenizer == "per-arm":
        return None
    if config.tokenizer != "shared":
        return _given_tokenizer(config)
    stages.train_tokenizer([out / a / "curated" for a in arms], out / "tokenizer", config.vocab_size)
    return out / "tokenizer"


def _given_tokenizer(config: AblateConfig) -> Path:
    path = Path(config.tokenizer)
    if not (path / "tokenizer.json").is_file():
        raise UserError(f"--tokenizer {config.tokenizer}: not a roots tokenizer folder (no tokenizer.json); "
                        "give a folder from `roots tokenizer train`, 'shared' or 'per-arm'")
    return path


def _pin_tokenizer(arm_dir: Path, tokenizer: Path) -> None:
    """Refuse to resume an arm whose models were trained with another tokenizer (their checkpoints would be
    reused as they are)."""
    from roots.tokenizer.tokenizer import tokenizer_sha256

    sha, pin = tokenizer_sha256(tokenizer), arm_dir / "tokenizer.sha256"
    shards_meta = arm_dir / "shards" / "meta.json"
    before = (pin.read_text().strip() if pin.is_file() else  # older outputs: the shards say which tokenizer
              read_json(shards_meta).get("tokenizer_sha256") if shards_meta.is_file() else None)
    if before and before != sha:
        raise UserError(f"{arm_dir} was trained with another tokenizer (--tokenizer changed since that run); "
                        "give a new --output")
    with atomic_write(pin) as f:
        f.write(sha + "\n")


def ablate(config: AblateConfig) -> int:
    from roots.eval.perplexity import UNITS as PERPLEXITY_UNITS
    from roots.eval.report import write_report
    from roots.model.io import open_run

    arms = resolve_arms(config)
    baseline = config.baseline or arms[0].name
    if not config.eval:
        raise UserError("give at least one --eval text")
    out = config.output
    out.mkdir(parents=True, exist_ok=True)
    eval_names = _eval_names(config.eval)
    evals = [(name, path, _eval_texts(path, config.eval_max_bytes)) for name, path in zip(eval_names, config.eval)]
    seeds = [config.seed + i for i in range(config.seeds)]
    tokens_per_model = config.train_steps * config.batch_size * config.block_size
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    curated = {}
    for arm in arms:
        stats = stages.curate(arm.recipe, config.input, out / arm.name / "curated", config.workers,
                              overrides=arm.overrides)
        if stats["output"]["docs"] == 0:
            raise UserError(f"arm {arm.name} ({arm.describe()}) kept no documents of {config.input}; "
                            "nothing to train on")
        curated[arm.name] = stats
    shared_tokenizer = _shared_tokenizer(config, out, [a.name for a in arms])
    for arm in arms:
        base = out / arm.name
        stats, t0 = curated[arm.name], time.perf_counter()
        tokenizer = shared_tokenizer or base / "tokenizer"
        if shared_tokenizer is None:
            stages.train_tokenizer(base / "curated", tokenizer, config.vocab_size)
        _pin_tokenizer(base, tokenizer)
        shards = stages.tokenize(tokenizer, base / "curated", base / "shards", 0.1, val_split="tail")
        train_tokens = shards["splits"]["train"]["tokens"]
        runs = []
        for seed in seeds:
            run_dir = base / f"run-seed{seed}"
            result, n_params = stages.train(base / "shards", run_dir, config.model, config.block_size,
                                            config.batch_size, config.train_steps, config.lr,
                                            eval_every=config.train_steps, seed=seed)
            loaded = open_run(run_dir, device="auto")
            bpb, ppl = {}, {}
            for name, path, texts in evals:
                metrics = stages.perplexity_on_texts(loaded, texts, stride=config.block_size // 2).to_dict()
                write_report(base / "eval" / f"seed{seed}" / name, "perplexity", metrics,
                             {"model": str(loaded.checkpoint), "eval_text": path, "paragraphs": len(texts),
                              "context": loaded.context, "stride": config.block_size // 2}, units=PERPLEXITY_UNITS)
                bpb[name], ppl[name] = metrics["bits_per_byte"], metrics["word_perplexity"]
            runs.append({"seed": seed, "val_loss": result["best_val_loss"], "bits_per_byte": bpb,
                         "word_perplexity": ppl, "model": str(run_dir), "eval": str(base / "eval" / f"seed{seed}")})
        sample = stages.samples(loaded, [PROMPT], 40, seed=config.seed)[0]
        rows.append({
            "arm": arm.name, "recipe": arm.recipe, "overrides": arm.overrides,
            "docs_in": stats["reader"]["docs"], "docs_kept": stats["output"]["docs"],
            "chars_kept": stats["output"]["chars"], "train_tokens": train_tokens,
            "epochs": tokens_per_model / max(train_tokens, 1), "params": n_params, "runs": runs,
            "sample": sample[0] + sample[1],
            "links": {"data": str(base / "curated"), "tokenizer": str(tokenizer),
                      "shards": str(base / "shards"), "models": [r["model"] for r in runs],
                      "evals": [r["eval"] for r in runs]},
        })
        means = ", ".join(f"{n} {sum(r['bits_per_byte'][n] for r in runs) / len(runs):.4f}" for n in eval_names)
        print(f"[{arm.name}] {rows[-1]['docs_kept']}/{rows[-1]['docs_in']} docs kept, {train_tokens:,} train tokens "
              f"({rows[-1]['epochs']:.1f} epochs), {len(seeds)} seeds, mean bits/byte: {means} "
              f"({time.perf_counter() - t0:.0f}s)")

    comparisons = compare(rows, eval_names, baseline)
    warnings = _warnings(rows, config, tokens_per_model)
    write_json(out / "ablation.json", {"eval": config.eval, "eval_names": eval_names, "tokens_per_model": tokens_per_model,
                                       "model": config.model, "tokenizer": config.tokenizer, "seeds": seeds, "baseline": baseline,
                                       "confidence": CONFIDENCE, "results": rows, "comparisons": comparisons,
                                       "warnings": warnings})
    verdicts = [_verdict_line(ev, comparisons[ev], baseline) for ev in eval_names]
    _write_table(out / "ablation.md", rows, comparisons, config, tokens_per_model, eval_names, baseline, verdicts,
                 warnings)
    page = _write_report(out, rows, comparisons, config, tokens_per_model, eval_names, baseline, verdicts, warnings)
    write_run_record(out, "ablate", config, results=[
        {"arm": r["arm"], **{ev: comparisons[ev]["arms"][r["arm"]] for ev in eval_names}} for r in rows])
    for w in warnings:
        print(f"ablate: warning: {w}")
    print(f"ablate: {len(rows)} arms x {len(seeds)} seeds in {time.perf_counter() - start:.0f}s; "
          + "; ".join(verdicts) + f" -> {out / 'ablation.md'}, {page}")
    return 0


def _fmt_interval(d: dict[str, Any], signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    if d["low"] is None:
        return f.format(d["mean"])
    return f"{f.format(d['mean'])} [{f.format(d['low'])}, {f.format(d['high'])}]"


def _table_rows(rows, comparisons, eval_names, baseline) -> tuple[list[str], list[list[Any]]]:
    header = ["arm", "recipe", "docs kept", "train tokens", "epochs"]
    for ev in eval_names:
        header += [f"{ev} bits/byte", f"Δ vs {baseline}"]
    header.append("warning")
    table = []
    for r in rows:
        cells: list[Any] = [r["arm"], Arm(r["arm"], r["recipe"], r["overrides"]).describe(),
                            f"{r['docs_kept']}/{r['docs_in']}", r["train_tokens"], round(r["epochs"], 1)]
        for ev in eval_names:
            c = comparisons[ev]
            d = c["vs_baseline"][r["arm"]]
            cells += [_fmt_interval(c["arms"][r["arm"]]),
                      "baseline" if r["arm"] == baseline else f"{_fmt_interval(d, signed=True)} {d['verdict']}"]
        cells.append(f"{r['epochs']:.1f} epochs (memorises)" if r["epochs"] > MAX_EPOCHS else
                     f"{r['epochs']:.1f} epochs (repeats)" if r["epochs"] > 1 else "")
        table.append(cells)
    return header, table


def _write_table(path: Path, rows, comparisons, config: AblateConfig, tokens: int, eval_names, baseline,
                 verdicts: list[str], warnings: list[str]) -> None:
    header, table = _table_rows(rows, comparisons, eval_names, baseline)
    lines = [f"# Ablation: {config.model}, {tokens:,} training tokens per model, {config.seeds} seeds per arm", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in row) + " |" for row in table]
    lines += ["", f"Bits/byte: mean over seeds [{int(CONFIDENCE * 100)}% t interval]; lower is better. "
              f"Δ: paired difference to {baseline} (seed i against seed i) with its interval; an arm is better or "
              "worse only when that interval excludes 0.", ""]
    lines += [f"- {v}" for v in verdicts]
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    with atomic_write(path) as f:
        f.write("\n".join(lines) + "\n")


def _write_report(out: Path, rows, comparisons, config: AblateConfig, tokens: int, eval_names, baseline,
                  verdicts: list[str], warnings: list[str]) -> Path:
    from roots.model.io import open_run
    from roots.train.metrics import read_metrics
    from roots.workflows.figures import comparison_bars, loss_curves
    from roots.workflows.inspect import draw_attention
    from roots.workflows.report import Section, write_html_report

    figures = out / "figures"
    names = [r["arm"] for r in rows]
    bars = []
    for i, ev in enumerate(eval_names):
        arms = comparisons[ev]["arms"]
        bars.append((comparison_bars(names, [arms[n]["mean"] for n in names], figures / f"bits_per_byte_{i}.png",
                                     "bits/byte (lower is better)", f"held-out {ev}",
                                     intervals=[(arms[n]["low"], arms[n]["high"]) for n in names]),
                     f"mean bits per byte on {ev}, with {int(CONFIDENCE * 100)}% intervals over seeds"))
    loss_png = loss_curves({r["arm"]: read_metrics(Path(r["links"]["models"][0]) / "metrics.jsonl") for r in rows},
                           figures / "loss.png")
    leader = comparisons[eval_names[0]]["leader"]
    leader_row = next(r for r in rows if r["arm"] == leader)
    attn_png = draw_attention(open_run(leader_row["links"]["models"][0], device="cpu"),
                              PROMPT + " grew quickly.", figures / "attention.png")
    funnels = []
    for r in rows:
        stats = read_json(Path(r["links"]["data"]) / "stats.json")
        funnels.append(Section(f"Funnel: {r['arm']}", tables=[(["step", "in", "out", "drops"], [
            [s["name"] + (" (NOT APPLIED)" if s.get("not_applied") else ""), s["docs_in"], s["docs_out"],
             ", ".join(f"{k}: {v}" for k, v in s["dropped"].items())]
            for s in stats["steps"]])], figures=[(Path(r["links"]["data"]) / "funnel.png", f"{r['arm']} funnel")]
            if (Path(r["links"]["data"]) / "funnel.png").exists() else []))
    header, table = _table_rows(rows, comparisons, eval_names, baseline)
    sections = [
        Section("Result", [f"Same model ({config.model}), same {tokens:,} training tokens, {config.seeds} seeds per "
                           f"arm, same evaluation texts; lower bits/byte is better. Intervals are "
                           f"{int(CONFIDENCE * 100)}% t intervals over seeds; Δ is the paired difference to "
                           f"{baseline}.", *verdicts],
                tables=[(header, table)], figures=bars),
        *([Section("Warnings", warnings)] if warnings else []),
        Section("Loss curves", figures=[(loss_png, "training (line) and validation (markers) loss per arm, "
                                                   "first seed")]),
        *funnels,
        Section("Samples", [f"Prompt: {PROMPT!r}, temperature 0.8, top-k 50."],
                samples=[(f"[{r['arm']}] ", r["sample"]) for r in rows]),
        Section(f"Attention of the lowest-mean model ({leader}, first seed)",
                figures=[(attn_png, "rows = layers, columns = heads")]),
    ]
    return write_html_report(out / "report.html", "roots ablation", sections,
                             subtitle=f"crawl: {', '.join(config.input)}")
