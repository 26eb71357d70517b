"""RootsLM vs lm-evaluation-harness's `hf` backend: the same log-likelihoods on a tiny local task.

lm-eval is not a roots dependency, so run this with a Python that has it, e.g. a throwaway venv:
    python -m venv /tmp/lmeval && /tmp/lmeval/bin/pip install lm-eval
    PYTHONPATH=src /tmp/lmeval/bin/python benchmarks/lmeval_parity.py [--model CHECKPOINT] [--quick]
Without --model it trains nothing: a seeded tiny Llama-style model and a BPE tokenizer fitted to
tiny-shakespeare are built, saved as a roots checkpoint and exported with `roots export hf`; lm-eval
then loads the export and RootsLM the checkpoint. Requests: for lines of tiny-shakespeare, the true next
words vs another line's (multiple choice), an empty context, and rolling log-likelihoods of passages.
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
    model.save(work / "ckpt")
    tok.save(work / "ckpt" / "tokenizer")
    return work / "ckpt"


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
    print(f"RESULT max_rel_loglik_diff {max(diff, diff_rolling):.2e} goal 1e-6")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
