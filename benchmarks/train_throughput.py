"""Training throughput on CPU: roots' TransformerModel vs Hugging Face transformers, same sizes and AdamW.

For a GPT-2-style and a Llama-style model of identical shape, times full training steps (forward, loss,
backward, AdamW step, zero_grad) of roots and of `GPT2LMHeadModel` / `LlamaForCausalLM` (SDPA attention),
in alternating rounds so that load from other jobs hits both alike, and reports tokens/s (median of
rounds). Speedup = roots / HF; the reported figure is the smaller of the two.

    python benchmarks/train_throughput.py [--quick]

On CUDA the figure that matters is MFU of gpt2-124m in bf16 at context 1024 (`roots train` prints it);
this script measures CPU only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
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


def step_fn(model: torch.nn.Module, is_hf: bool, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    model.train()

    def step() -> None:
        if is_hf:  # HF shifts labels inside: pass the inputs as labels
            loss = model(input_ids=x, labels=x).loss
        else:
            _, loss = model(x, targets=y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def tokens_per_s(step, tokens: int, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return tokens * steps / (time.perf_counter() - t0)


def compare(name: str, config: ModelConfig, batch: int, rounds: int, steps: int) -> float:
    torch.manual_seed(0)
    ours, theirs = TransformerModel(config), hf_model(config)
    n_ours, n_theirs = ours.num_params(False), sum(p.numel() for p in theirs.parameters())
    assert n_ours == n_theirs, (n_ours, n_theirs)
    x = torch.randint(0, config.vocab_size, (batch, config.block_size))
    y = torch.roll(x, -1, dims=1)
    runs = {"roots": step_fn(ours, False, x, y), "hf": step_fn(theirs, True, x, y)}
    for step in runs.values():  # warm up allocator and kernels
        step()
    results: dict[str, list[float]] = {"roots": [], "hf": []}
    for _ in range(rounds):
        for key, step in runs.items():
            results[key].append(tokens_per_s(step, x.numel(), steps))
    roots_tps, hf_tps = statistics.median(results["roots"]), statistics.median(results["hf"])
    print(f"{name:6s} {n_ours / 1e6:.1f}M params, batch {batch} x {config.block_size}: "
          f"roots {roots_tps:,.0f} tok/s   transformers {hf_tps:,.0f} tok/s   speedup {roots_tps / hf_tps:.2f}x")
    return roots_tps / hf_tps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (< 1 minute)")
    args = parser.parse_args()
    rounds, steps, batch = (3, 1, 4) if args.quick else (7, 3, 8)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} "
          f"thread(s), CPU shared with other jobs (timings under contention)")
    gpt2 = ModelConfig(**SHAPE, positions="learned", norm="layernorm", mlp="gelu_tanh", bias=True)
    llama = ModelConfig(**SHAPE, n_kv_head=2, intermediate_size=688, positions="rope", norm="rmsnorm",
                        mlp="swiglu", bias=False, tie_embeddings=False)
    speedups = [compare("gpt2", gpt2, batch, rounds, steps), compare("llama", llama, batch, rounds, steps)]
    print("CUDA: MFU of gpt2-124m in bf16 at context 1024 is unmeasured here (no GPU)")
    print(f"RESULT train_throughput_speedup_vs_hf {min(speedups):.2f} goal 1.2")


if __name__ == "__main__":
    main()
