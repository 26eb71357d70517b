"""Looking inside a trained model: attention maps per layer and head, and embedding neighbours.

Attention runs through fused SDPA kernels that never materialize the probabilities, so the maps are
recomputed here from each layer's own query/key projections (same RoPE, same grouped-query sharing):
softmax(q k^T / sqrt(head_dim)) under the causal mask, exactly what SDPA computes internally.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from roots.model.layers import CausalSelfAttention


@torch.no_grad()
def attention_maps(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """Attention probabilities (n_layer, n_head, T, T) for one sequence idx (1, T)."""
    captured: list[tuple[torch.Tensor, tuple | None]] = []

    def grab(module, args):
        x, rope = args[0], args[1] if len(args) > 1 else None
        captured.append((x, rope))

    layers = [m for m in model.modules() if isinstance(m, CausalSelfAttention)]
    handles = [m.register_forward_pre_hook(grab) for m in layers]
    try:
        model.eval()
        model(idx)
    finally:
        for h in handles:
            h.remove()
    maps = []
    for attn, (x, rope) in zip(layers, captured):
        T = x.size(1)
        q, k, _ = attn.qkv(x, rope)  # the layer's own projections and rotation: (B, nh, T, hd), (B, n_kv, T, hd)
        k = k.repeat_interleave(attn.n_head // attn.n_kv_head, dim=1)  # grouped-query heads share keys
        scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dim)  # (B, nh, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        maps.append(F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)[0])
    return torch.stack(maps)  # (L, nh, T, T)


@torch.no_grad()
def nearest_tokens(model: torch.nn.Module, token_id: int, k: int = 10) -> list[tuple[int, float]]:
    """The k tokens whose input embeddings are closest (cosine) to `token_id`'s, itself excluded."""
    table = F.normalize(model.transformer.wte.weight.float(), dim=-1)  # (V, C)
    sims = table @ table[token_id]
    sims[token_id] = -math.inf
    values, ids = sims.topk(k)
    return [(int(i), float(v)) for i, v in zip(ids, values)]


@torch.no_grad()
def sentence_embedding(model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """Mean of the final hidden states of idx (1, T): a sentence vector (C,) from a decoder."""
    captured = []
    handle = model.transformer.ln_f.register_forward_hook(lambda _m, _a, out: captured.append(out))
    try:
        model.eval()
        model(idx)
    finally:
        handle.remove()
    return captured[0][0].float().mean(dim=0)
