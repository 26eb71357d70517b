"""Training throughput on CPU: roots' TransformerModel vs Hugging Face transformers, same sizes and AdamW.

For a GPT-2-style and a Llama-style model of identical shape, times full training steps of roots' own
loop (`Trainer.train_step`: batch from token shards, forward, loss, backward, clipping, its AdamW, zero_grad)
and of `GPT2LMHeadModel` / `LlamaForCausalLM` (SDPA attention) in the inner step of `transformers.Trainer`
with its defaults (AdamW, fused on torch >= 2.8; clipping at 1.0), in alternating rounds so that load from
other jobs hits both alike, and reports tokens/s (median of rounds). Speedup = roots / HF; the reported
figure is the smaller of the two.

    python benchmarks/train_throughput.py [--quick]

On CUDA the figure that matters is MFU of gpt2-124m in bf16 at context 1024 (`roots train` prints it);
this script measures CPU only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from roots.model.config import ModelConfig  # noqa: E402
from roots.model.gpt import TransformerModel  # noqa: E402

SHAPE = dict(vocab_size=8192, block_size=256, n_layer=4, n_head=4, n_embd=256)


def hf_model(config: ModelConfig) -> torch.nn.Module:
    import transformers

    if config.positions == "learned":
        hf_config = transformers.GPT2Config(
            vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
            n_layer=config.n_layer, n_head=config.n_head, activation_function="gelu_new",
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="sdpa")
        return transformers.GPT2LMHeadModel(hf_config)
    hf_config = transformers.LlamaConfig(
        vocab_size=config.vocab_size, hidden_size=config.n_embd, intermediate_size=config.intermediate_size,
        num_hidden_layers=config.n_layer, num_attention_heads=config.n_head,
        num_key_value_heads=config.n_kv_head, max_position_embeddings=config.block_size,
        tie_word_embeddings=config.tie_embeddings, attn_implementation="sdpa")
    return transformers.LlamaForCausalLM(hf_config)


def fused_adamw_supported() -> bool:
    try:
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], fused=True)
        return True
    except (RuntimeError, ValueError):
        return False


def hf_step(model: torch.nn.Module, x: torch.Tensor):
    """The inner step of `transformers.Trainer` with its defaults: AdamW (fused on torch >= 2.8), gradient
    clipping at 1.0, zero_grad(set_to_none=True); without its callbacks and logging (which favours HF)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, fused=fused_adamw_supported())
    model.train()

    def step() -> None:
        loss = model(input_ids=x, labels=x).loss  # HF shifts labels inside: the inputs are the labels
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def roots_step(model: TransformerModel, batch: int, work: Path, compile: bool = False):
    """roots' own training step: `Trainer.train_step` (random windows from token shards, its optimizer,
    clipping and zero_grad), on a shards folder of random tokens."""
    import numpy as np

    from roots.train.config import OptimConfig
    from roots.train.loader import write_token_shards
    from roots.train.trainer import Trainer

    vocab = model.config.vocab_size
    tokens = np.random.default_rng(0).integers(0, vocab, 200_000)
    shards = write_token_shards(work / "shards", {"train": tokens, "val": tokens[:20_000]}, vocab_size=vocab)
    trainer = Trainer(model=model, dataset=shards, out_dir=str(work / "run"), batch_size=batch,
                      block_size=model.config.block_size, max_steps=10**6, device="cpu", tensorboard=False,
                      optim=OptimConfig(lr=1e-4), resume="none", compile=compile)
    trainer.train_model.train()
    return trainer.train_step


def tokens_per_s(step, tokens: int, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return tokens * steps / (time.perf_counter() - t0)


def compare(name: str, config: ModelConfig, batch: int, rounds: int, steps: int, compile: bool = False) -> float:
    torch.manual_seed(0)
    ours, theirs = TransformerModel(config), hf_model(config)
    n_ours, n_theirs = ours.num_params(False), sum(p.numel() for p in theirs.parameters())
    assert n_ours == n_theirs, (n_ours, n_theirs)
    x = torch.randint(0, config.vocab_size, (batch, config.block_size))
    with tempfile.TemporaryDirectory() as work:
        runs = {"roots": roots_step(ours, batch, Path(work), compile), "hf": hf_step(theirs, x)}
        return _race(name, runs, n_ours, batch, config, x.numel(), rounds, steps)


def _race(name, runs, n_ours, batch, config, tokens, rounds, steps) -> float:
    for step in runs.values():  # warm up allocator and kernels
        step()
    results: dict[str, list[float]] = {"roots": [], "hf": []}
    for _ in range(rounds):
        for key, step in runs.items():
            results[key].append(tokens_per_s(step, tokens, steps))
    roots_tps, hf_tps = statistics.median(results["roots"]), statistics.median(results["hf"])
    print(f"{name:6s} {n_ours / 1e6:.1f}M params, batch {batch} x {config.block_size}: "
          f"roots {roots_tps:,.0f} tok/s   transformers {hf_tps:,.0f} tok/s   speedup {roots_tps / hf_tps:.2f}x")
    return roots_tps / hf_tps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (< 1 minute)")
    parser.add_argument("--compile", action="store_true", help="roots with `roots train --compile` (torch.compile)")
    args = parser.parse_args()
    rounds, steps, batch = (3, 1, 4) if args.quick else (7, 3, 8)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} "
          f"thread(s), CPU shared with other jobs (timings under contention)")
    gpt2 = ModelConfig(**SHAPE, positions="learned", norm="layernorm", mlp="gelu_tanh", bias=True)
    llama = ModelConfig(**SHAPE, n_kv_head=2, intermediate_size=688, positions="rope", norm="rmsnorm",
                        mlp="swiglu", bias=False, tie_embeddings=False)
    speedups = [compare("gpt2", gpt2, batch, rounds, steps, args.compile),
                compare("llama", llama, batch, rounds, steps, args.compile)]
    print("CUDA: MFU of gpt2-124m in bf16 at context 1024 is unmeasured here (no GPU)")
    suffix = "_compiled" if args.compile else ""
    print(f"RESULT train_throughput_speedup_vs_hf{suffix} {min(speedups):.2f} goal 1.2")


if __name__ == "__main__":
    main()
