"""Task evaluation: lm-evaluation-harness task YAML, run by lm-eval itself on a roots model.

A task file is lm-eval's own YAML (`dataset_path: json|csv|parquet` with `dataset_kwargs.data_files`,
`test_split` / `validation_split` / `fewshot_split`, Jinja `doc_to_text` / `doc_to_target` /
`doc_to_choice`, `target_delimiter`, `num_fewshot`, `metric_list`, `include`, `!function`, filters ...).
lm-eval builds the requests, samples the few-shot examples and computes the metrics, so `acc`, `acc_norm`
(log-likelihood per *character* of the choice) and every other metric are lm-eval's by construction;
roots only answers the three request types (`RootsLM` in `roots.eval.lm`, or anything with the same
methods: the `LanguageModel` protocol below).

Two conveniences over lm-eval, both on loading:
- a relative `data_files` entry that does not exist from the current folder (lm-eval's rule) is looked up
  next to the YAML file, so a task folder can be run from anywhere;
- roots' earlier short form still loads: `data: docs.jsonl` (+ `fewshot_data`, `metrics`, `until`,
  `max_gen_toks`), translated to the lm-eval fields above.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol

from roots.common.errors import UserError


class LanguageModel(Protocol):
    """The three request types of lm-evaluation-harness, with plain tuples instead of `Instance`s."""

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): summed log-prob (nats) of continuation, and is-greedy."""

    def loglikelihood_rolling(self, texts: list[str]) -> list[float]:
        """Summed log-prob (nats) of each whole text."""

    def generate_until(self, requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Greedy continuation of each context, cut at the first `until` string."""


# roots' short form -> lm-eval's fields
_SHORT_FORM = {"data", "fewshot_data", "metrics", "until", "max_gen_toks", "limit", "seed"}


def _require_lm_eval():
    try:
        import lm_eval  # noqa: F401
    except ImportError as e:
        raise UserError("roots eval task runs lm-evaluation-harness: pip install 'roots[eval]' "
                        "(or pip install lm-eval)") from e


def load_task(path: str | Path, **overrides: Any) -> dict[str, Any]:
    """The lm-eval task config (a dict) of a task YAML, data files resolved; `overrides` replace fields."""
    _require_lm_eval()
    from lm_eval.tasks._yaml_loader import load_yaml  # lm-eval's own loader: `include`, `!function`

    path = Path(path)
    if not path.is_file():
        raise UserError(f"task file not found: {path}")
    try:
        config = load_yaml(path)
    except (OSError, ValueError, ImportError, AttributeError) as e:  # bad include / !function target
        raise UserError(f"{path}: cannot load the task ({e})") from e
    except Exception as e:  # yaml.YAMLError and friends
        raise UserError(f"{path}: not a valid task YAML ({e})") from e
    config.update({k: v for k, v in overrides.items() if v is not None})
    if "task" not in config:
        raise UserError(f"{path}: a task needs a `task:` name")
    if "data" in config:
        config = _from_short_form(config)
    if "dataset_path" not in config:
        raise UserError(f"{path}: no data: set dataset_path (json, csv or parquet) with "
                        "dataset_kwargs.data_files, as in lm-eval")
    config["dataset_kwargs"] = _resolve_data_files(dict(config.get("dataset_kwargs") or {}), path.parent)
    return config


def _from_short_form(short: dict[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in short.items() if k not in _SHORT_FORM}
    files = {"test": short["data"]}
    config.update(dataset_path="json", test_split="test")
    if short.get("fewshot_data"):
        files["train"] = short["fewshot_data"]
        config["fewshot_split"] = "train"
    config["dataset_kwargs"] = {"data_files": files}
    config.setdefault("output_type", "multiple_choice")
    if short.get("metrics"):
        config["metric_list"] = [{"metric": m} for m in short["metrics"]]
    if config["output_type"] == "generate_until":
        config["generation_kwargs"] = {"until": short.get("until", ["\n\n"]),
                                       "max_gen_toks": short.get("max_gen_toks", 64), "do_sample": False}
    return config


def _resolve_data_files(kwargs: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative data files that are missing from the current folder are taken from the YAML's folder."""

    def resolve(name: str) -> str:
        if "://" in name or Path(name).is_absolute() or Path(name).exists() or not (folder / name).exists():
            return name
        return str(folder / name)

    files = kwargs.get("data_files")
    if isinstance(files, str):
        kwargs["data_files"] = resolve(files)
    elif isinstance(files, list):
        kwargs["data_files"] = [resolve(f) for f in files]
    elif isinstance(files, dict):
        kwargs["data_files"] = {split: [resolve(f) for f in v] if isinstance(v, list) else resolve(v)
                                for split, v in files.items()}
    for split_files in _as_list(kwargs.get("data_files")):
        if "://" not in split_files and "*" not in split_files and not Path(split_files).exists():
            raise UserError(f"task data not found: {split_files}")
    return kwargs


def _as_list(files: Any) -> list[str]:
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    if isinstance(files, dict):
        return [f for v in files.values() for f in _as_list(v)]
    return [str(f) for f in files]


def harness_lm(model: LanguageModel):
    """`model` as an lm-eval `LM`: requests arrive as lm-eval `Instance`s and leave as plain tuples."""
    _require_lm_eval()
    from lm_eval.api.model import LM

    class RootsHarnessLM(LM):
        def loglikelihood(self, requests):
            return model.loglikelihood([tuple(r.args) for r in requests])

        def loglikelihood_rolling(self, requests):
            return model.loglikelihood_rolling([r.args[0] for r in requests])

        def generate_until(self, requests):
            return model.generate_until([(r.args[0], dict(r.args[1])) for r in requests])

    return RootsHarnessLM()


def evaluate_task(model: LanguageModel, config: dict[str, Any], num_fewshot: int | None = None,
                  limit: int | None = None, bootstrap_iters: int = 1000, seed: int = 1234) -> dict[str, Any]:
    """Run one task through lm-eval's evaluator (its defaults: seeds 0/1234/1234/1234, as `lm_eval` CLI).

    Returns {"task", "output_type", "num_fewshot", "n", "metrics": {name: value, name_stderr: ...},
    "samples": the first few prompts with their responses}.
    """
    _require_lm_eval()
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    # lm-eval warns for every metric_list entry without an explicit aggregation (it takes the default)
    logging.getLogger("lm_eval.api.task").setLevel(logging.ERROR)
    try:
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
    except ImportError:
        pass
    config = dict(config)
    limit = limit if limit is not None else config.pop("limit", None)
    try:
        results = simple_evaluate(model=harness_lm(model), tasks=[config],
                                  task_manager=TaskManager(include_defaults=False),
                                  num_fewshot=num_fewshot, limit=limit, bootstrap_iters=bootstrap_iters,
                                  log_samples=True, fewshot_random_seed=seed)
    except UserError:
        raise
    except FileNotFoundError as e:
        raise UserError(f"task {config['task']}: {e}") from e
    except Exception as e:  # template, dataset and metric errors surface from lm-eval's internals
        import jinja2

        if isinstance(e, jinja2.TemplateError | KeyError | ValueError | TypeError | IndexError):
            raise UserError(f"task {config['task']}: {type(e).__name__}: {e}") from e
        raise
    name = config["task"]
    raw = results["results"][name]
    metrics = {}
    for key, value in raw.items():
        if key in ("alias", "sample_len") or not isinstance(value, int | float):
            continue
        metric, _, filt = key.partition(",")
        label = metric if filt in ("none", "") else f"{metric}[{filt}]"
        if not (isinstance(value, float) and math.isnan(value)):
            metrics[label] = value
    samples = [{"prompt": s["arguments"][0][0] if s.get("arguments") else None,
                "target": s.get("target"), "response": s.get("filtered_resps")}
               for s in results.get("samples", {}).get(name, [])[:5]]
    task_config = results["configs"][name]
    return {"task": name, "output_type": task_config.get("output_type"),
            "num_fewshot": results.get("n-shot", {}).get(name, task_config.get("num_fewshot", 0)),
            "n": int(results["n-samples"][name]["effective"]), "metrics": metrics, "samples": samples}
