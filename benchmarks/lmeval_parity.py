"""RootsLM vs lm-evaluation-harness's `hf` backend: the same log-likelihoods, and the same task metrics.

    python benchmarks/lmeval_parity.py [--model CHECKPOINT] [--quick]      (lm-eval comes with roots[eval])
Without --model it trains nothing: a seeded tiny Llama-style model and a BPE tokenizer fitted to
tiny-shakespeare are built, saved as a roots checkpoint and exported with `roots export hf`; lm-eval
then loads the export and RootsLM the checkpoint. Requests: for lines of tiny-shakespeare, the true next
words vs another line's (multiple choice), an empty context, and rolling log-likelihoods of passages.
Then one lm-eval task YAML (local JSONL, 4-way multiple choice, 2-shot) runs through `lm_eval --model hf`
(the CLI, in a subprocess) and through `roots eval task --prefix-eos false`; acc and acc_norm must agree.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def build_model(text: str, work: Path) -> Path:
    import torch

    from roots.model.config import ModelConfig
    from roots.model.gpt import TransformerModel
    from roots.tokenizer.tokenizer import Tokenizer

    tok = Tokenizer.train([text], kind="bpe", vocab_size=1024)
    torch.manual_seed(0)
    config = ModelConfig.from_preset("llama-micro", vocab_size=tok.vocab_size, block_size=128)
    model = TransformerModel(config)
    from roots.model.io import save_model

    save_model(model, work / "ckpt")
    tok.save(work / "ckpt" / "tokenizer")
    return work / "ckpt"


TASK_YAML = """\
task: shakespeare_next_words
dataset_path: json
dataset_kwargs:
  data_files:
    test: docs.jsonl
test_split: test
fewshot_split: test
num_fewshot: 2
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_target: "{{gold}}"
doc_to_choice: "{{choices}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def task_parity(lines: list[str], checkpoint: Path, hf_dir: Path, work: Path, n_docs: int) -> dict:
    """acc / acc_norm of one lm-eval YAML task through `lm_eval --model hf` and through `roots eval task`."""
    import json
    import random
    import subprocess

    from roots.cli import main as roots_main

    rng = random.Random(0)
    folder = work / "task"
    folder.mkdir()
    with open(folder / "docs.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_docs):
            words = lines[i * 5].split()
            others = [" ".join(lines[rng.randrange(len(lines))].split()[-3:]) for _ in range(3)]
            choices = [" ".join(words[-3:]), *others]
            rng.shuffle(choices)
            f.write(json.dumps({"context": " ".join(words[:-3]), "choices": choices,
                                "gold": choices.index(" ".join(words[-3:]))}) + "\n")
    (folder / "task.yaml").write_text(TASK_YAML)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                    f"pretrained={hf_dir},dtype=float32", "--device", "cpu", "--batch_size", "16",
                    "--tasks", "shakespeare_next_words", "--include_path", str(folder),
                    "--output_path", str(work / "lmeval_out")],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_theirs = time.perf_counter() - t
    result_file = next((work / "lmeval_out").rglob("results_*.json"))
    theirs = json.loads(result_file.read_text())["results"]["shakespeare_next_words"]
    t = time.perf_counter()
    roots_main(["eval", "task", "--model", str(checkpoint), "--task", str(folder / "task.yaml"),
                "--prefix-eos", "false", "--device", "cpu", "--output", str(work / "roots_out")])
    t_ours = time.perf_counter() - t
    ours = json.loads((work / "roots_out" / "REPORT.json").read_text())["metrics"]
    return {"theirs": {m: theirs[f"{m},none"] for m in ("acc", "acc_norm")},
            "ours": {m: ours[m] for m in ("acc", "acc_norm")}, "t_theirs": t_theirs, "t_ours": t_ours}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--model", default=None, help="roots checkpoint (default: build a tiny one)")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args()
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        print("lm-eval is not installed in this Python; see the module docstring", file=sys.stderr)
        print("RESULT max_rel_loglik_diff nan goal 1e-6")
        return 0

    from roots.eval.lm import RootsLM
    from roots.export.hf import ExportConfig, run_export

    with gzip.open(Path(args.data) / "lm" / "tinyshakespeare_input.txt.gz", "rt", encoding="utf-8") as f:
        text = f.read()
    lines = [line for line in text.splitlines() if len(line.split()) >= 6]
    n = 40 if args.quick else 400
    mc = []
    for i in range(n):
        words, other = lines[i * 7].split(), lines[i * 7 + 3].split()
        context = " ".join(words[:-3])
        mc += [(context, " " + " ".join(words[-3:])), (context, " " + " ".join(other[-3:]))]
    requests = [*mc, ("", "First Citizen:")]
    passages = [text[i * 3000:(i + 1) * 3000] for i in range(3 if args.quick else 20)]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = Path(args.model) if args.model else build_model(text[:300_000], work)
        run_export(ExportConfig(model=str(checkpoint), output=str(work / "hf")))
        ours_lm = RootsLM.from_checkpoint(checkpoint, device="cpu", batch_size=16, prefix_eos=False)
        t = time.perf_counter()
        ours = ours_lm.loglikelihood(requests)
        ours_rolling = ours_lm.loglikelihood_rolling(passages)
        t_ours = time.perf_counter() - t
        theirs_lm = HFLM(pretrained=str(work / "hf"), device="cpu", batch_size=16)
        t = time.perf_counter()
        theirs = theirs_lm.loglikelihood(
            [Instance("loglikelihood", {}, r, i) for i, r in enumerate(requests)])
        theirs_rolling = theirs_lm.loglikelihood_rolling(
            [Instance("loglikelihood_rolling", {}, (p,), i) for i, p in enumerate(passages)])
        t_theirs = time.perf_counter() - t
        gen_kwargs = {"until": ["\n"], "max_gen_toks": 24, "do_sample": False}
        gen_requests = [(line, gen_kwargs) for line in lines[:8]]
        gen_ours = ours_lm.generate_until(gen_requests)
        gen_theirs = theirs_lm.generate_until([Instance("generate_until", {}, r, i)
                                               for i, r in enumerate(gen_requests)])
        task = task_parity(lines, checkpoint, work / "hf", work, 30 if args.quick else 200)

    # relative: a rolling log-likelihood sums thousands of tokens, and lm-eval accumulates in float32
    diff = max(abs(a[0] - b[0]) / max(1.0, abs(b[0])) for a, b in zip(ours, theirs))
    diff_rolling = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(ours_rolling, theirs_rolling))
    greedy_agree = sum(a[1] == b[1] for a, b in zip(ours, theirs)) / len(ours)
    acc = lambda r: sum(r[2 * i][0] > r[2 * i + 1][0] for i in range(n)) / n  # noqa: E731
    chars = sum(map(len, passages))
    print(f"requests: {len(requests)} loglikelihood, {len(passages)} rolling ({chars} chars)")
    print(f"roots RootsLM:       acc {acc(ours):.4f}   sum ll {sum(r[0] for r in ours):.4f}   "
          f"rolling {sum(ours_rolling):.4f}   {t_ours:.2f} s")
    print(f"lm-eval hf backend:  acc {acc(theirs):.4f}   sum ll {sum(r[0] for r in theirs):.4f}   "
          f"rolling {sum(theirs_rolling):.4f}   {t_theirs:.2f} s")
    print(f"max relative diff: loglikelihood {diff:.2e}, rolling {diff_rolling:.2e}; "
          f"is-greedy agreement {greedy_agree:.3f}; generate_until identical "
          f"{sum(a == b for a, b in zip(gen_ours, gen_theirs))}/{len(gen_ours)}")
    task_diff = max(abs(task["ours"][m] - task["theirs"][m]) for m in ("acc", "acc_norm"))
    print(f"task YAML: lm_eval --model hf {task['theirs']} in {task['t_theirs']:.1f} s; "
          f"roots eval task {task['ours']} in {task['t_ours']:.1f} s (both include loading)")
    print(f"RESULT max_rel_loglik_diff {max(diff, diff_rolling):.2e} goal 1e-6")
    print(f"RESULT task_metric_max_abs_diff {task_diff:.4g} goal 0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
