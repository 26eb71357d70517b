"""Perplexity throughput: roots (`roots eval perplexity`'s code path) vs a straightforward transformers loop.

Both score WikiText-2 test with the same exported model and the same sliding windows (context C, stride S;
every token scored once). The transformers loop is the one in Hugging Face's perplexity guide: one window
at a time, `labels` with -100 on the tokens earlier windows scored, loss x new tokens. roots batches
windows of equal length through `roots.eval.perplexity`. The model is a seeded `gpt2-mini`-sized GPT-2 with
a BPE tokenizer fitted on WikiText-2 valid (the weights do not matter for speed; both sides must agree on
the NLL, which is printed). Metric: roots tokens/s over transformers tokens/s.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--quick", action="store_true", help="score 60k characters, not the split")
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--preset", default="gpt2-mini")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    import torch
    import transformers

    from roots.eval.perplexity import perplexity, windows
    from roots.export.hf import ExportConfig, run_export
    from roots.model.config import ModelConfig
    from roots.model.gpt import TransformerModel
    from roots.model.io import open_run, save_model
    from roots.tokenizer.tokenizer import Tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    wiki = Path(args.data) / "lm" / "wikitext-2"
    with gzip.open(wiki / "valid.txt.gz", "rt", encoding="utf-8") as f:
        valid = f.read()
    with gzip.open(wiki / "test.txt.gz", "rt", encoding="utf-8") as f:
        test = f.read()
    if args.quick:
        test = test[:60_000]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tok = Tokenizer.train([valid], kind="bpe", vocab_size=8192)
        torch.manual_seed(0)
        config = ModelConfig.from_preset(args.preset, vocab_size=tok.vocab_size, block_size=args.context + 1)
        save_model(TransformerModel(config), work / "ckpt")
        tok.save(work / "ckpt" / "tokenizer")
        run_export(ExportConfig(model=str(work / "ckpt"), output=str(work / "hf")))

        loaded = open_run(work / "ckpt", device=args.device)
        ids = [tok.eos_id, *tok.encode(test)]
        spans = windows(len(ids), args.context, args.stride)
        print(f"{args.preset}: {sum(p.numel() for p in loaded.model.parameters()) / 1e6:.1f}M parameters, "
              f"{len(ids) - 1} tokens, {len(spans)} windows (context {args.context}, stride {args.stride}), "
              f"device {args.device}, {torch.get_num_threads()} threads")

        perplexity(loaded.logits, test[:5000], tok.encode, tok.eos_id, args.context, args.stride,
                   args.batch_size, args.device)  # warm-up
        t = time.perf_counter()
        ours = perplexity(loaded.logits, test, tok.encode, tok.eos_id, args.context, args.stride,
                          args.batch_size, args.device)
        t_ours = time.perf_counter() - t

        hf = transformers.AutoModelForCausalLM.from_pretrained(str(work / "hf")).to(args.device).eval()
        x = torch.tensor([ids], device=args.device)  # (1, n)

        def hf_loop(spans):
            nll = 0.0
            for begin, end, n_new in spans:  # Hugging Face's perplexity guide, one window at a time
                input_ids = x[:, begin:end]
                target_ids = input_ids.clone()
                target_ids[:, :-n_new] = -100
                with torch.no_grad():
                    nll += hf(input_ids, labels=target_ids).loss.item() * n_new
            return nll

        hf_loop(spans[:4])  # warm-up
        t = time.perf_counter()
        nll_hf = hf_loop(spans)
        t_hf = time.perf_counter() - t

    tps_ours, tps_hf = ours.tokens / t_ours, ours.tokens / t_hf
    print(f"roots (batched windows, batch {args.batch_size}): {tps_ours:,.0f} tokens/s  ({t_ours:.2f} s), "
          f"{ours.nats_per_token:.6f} nats/token")
    print(f"transformers loop (guide, batch 1):         {tps_hf:,.0f} tokens/s  ({t_hf:.2f} s), "
          f"{nll_hf / ours.tokens:.6f} nats/token")
    print(f"RESULT speedup_vs_transformers {tps_ours / tps_hf:.2f} goal 1.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
