"""Sampling from a TransformerModel with a KV cache: temperature, top-k, top-p (nucleus), seeded.

This is the basic sampler the serving engine builds on; `roots generate` wraps it for one prompt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from roots.common.errors import UserError
from roots.common.io import read_json


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set to -inf every logit outside the top-k and outside the smallest set with probability >= top_p."""
    if top_k > 0 and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # drop a token when the ones ranked above it already reach top_p (the top token always stays)
        drop_sorted = cumulative - sorted_logits.softmax(dim=-1) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.no_grad()
def sample(model: torch.nn.Module, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, eos_id: int | None = None,
           generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield the next token ids (B,) one step at a time after the prompt idx (B, T); temperature 0 is greedy.

    The prompt is prefilled once into the KV cache; each later step feeds only the newest token.
    Prompts longer than what fits keep their last tokens (the model's context is block_size).
    """
    model.eval()
    block = model.config.block_size
    max_new_tokens = min(max_new_tokens, block - 1)
    idx = idx[:, -(block - max_new_tokens):]  # room for the new tokens in the cache
    T = idx.size(1)
    cache = model.new_kv_cache(idx.size(0), T + max_new_tokens)
    positions = torch.arange(T + max_new_tokens, device=idx.device)
    logits = model(idx, positions[:T], cache, logits_to_keep=1)[:, -1, :]  # (B, vocab)
    for step in range(max_new_tokens):
        if temperature == 0:
            next_id = logits.argmax(dim=-1)
        else:
            probs = filter_logits(logits.float() / temperature, top_k, top_p).softmax(dim=-1)
            next_id = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        yield next_id
        if eos_id is not None and bool((next_id == eos_id).all()):
            return
        logits = model(next_id[:, None], positions[T + step : T + step + 1], cache)[:, -1, :]


@dataclass
class GenerateConfig:
    """`roots generate`: continue a prompt with a trained model."""

    model: str = field(default="", metadata={"help": "run folder (its best checkpoint) or checkpoint folder"})
    prompt: str = field(default="\n", metadata={"help": "text to continue"})
    max_new_tokens: int = 200
    temperature: float = field(default=0.8, metadata={"help": "0 is greedy"})
    top_k: int = field(default=0, metadata={"help": "keep the k most likely tokens; 0 keeps all"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass; 1 keeps all"})
    seed: int = 1337
    num_samples: int = 1
    device: str = "auto"


def find_tokenizer(checkpoint: Path) -> Path:
    """tokenizer.json of the run a checkpoint belongs to (copied there at training time), else the one the
    shards' data meta names."""
    run_dir = checkpoint.parent.parent
    if (run_dir / "tokenizer.json").exists():
        return run_dir / "tokenizer.json"
    meta_path = run_dir / "data_meta.json"
    if meta_path.exists():
        meta = read_json(meta_path)
        tok_dir = meta.get("tokenizer_dir")
        for base in (Path(meta.get("path", ".")), Path(".")):
            if tok_dir and (base / tok_dir / "tokenizer.json").exists():
                return base / tok_dir / "tokenizer.json"
    raise UserError(f"no tokenizer.json found for {checkpoint} (looked in {run_dir} and its data_meta.json)")


def generate(config: GenerateConfig) -> int:
    """`roots generate`: print num_samples continuations of the prompt."""
    from tokenizers import Tokenizer

    from roots.model.io import find_checkpoint, load_model

    if not config.model:
        raise UserError("--model is required: a run folder or a checkpoint folder")
    if config.temperature < 0 or not 0 < config.top_p <= 1 or config.top_k < 0:
        raise UserError("need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")
    device = torch.device(config.device if config.device != "auto" else
                          "cuda" if torch.cuda.is_available() else "cpu")
    checkpoint = find_checkpoint(config.model)
    model = load_model(checkpoint, device)
    tokenizer = Tokenizer.from_file(str(find_tokenizer(checkpoint)))
    ids = tokenizer.encode(config.prompt, add_special_tokens=False).ids
    if not ids:
        raise UserError(f"the prompt {config.prompt!r} encodes to no tokens; give a non-empty prompt")
    if max(ids) >= model.config.vocab_size:
        raise UserError("the tokenizer's ids exceed the model's vocabulary: tokenizer and checkpoint do not match")
    meta = read_json(checkpoint.parent.parent / "data_meta.json") if (
        checkpoint.parent.parent / "data_meta.json").exists() else {}
    generator = torch.Generator(device).manual_seed(config.seed)
    idx = torch.tensor([ids] * config.num_samples, device=device)
    new = torch.stack(list(sample(model, idx, config.max_new_tokens, config.temperature, config.top_k,
                                  config.top_p, meta.get("eos_id"), generator)), dim=1)  # (N, new)
    for i, row in enumerate(new.tolist()):
        if config.num_samples > 1:
            print(f"--- sample {i + 1}")
        print(config.prompt + tokenizer.decode(row, skip_special_tokens=False))
    print(f"roots generate: {config.num_samples} x {new.size(1)} new tokens from {checkpoint}")
    return 0
