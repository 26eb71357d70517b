"""Transformer building blocks: norms, rotary/sinusoidal positions, self- and cross-attention, MLPs.

Parameter names follow nanoGPT (`c_attn`, `c_proj`, `c_fc`, `ln_1`, ...) so checkpoints map onto
GPT-2 and Llama layouts by renaming and splitting only (see tests/model/test_gpt.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.model.config import ModelConfig
from roots.model.kv_cache import KVCache


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's `nn.LayerNorm` cannot drop only the bias)."""

    def __init__(self, dim: int, bias: bool, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang & Sennrich 2019), computed in float32 as Llama does."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def dropout(p: float) -> nn.Module:
    """nn.Dropout, or no op at all when p is 0 (one kernel less per call)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


def make_norm(config: ModelConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, config.norm_eps)
    return LayerNorm(config.n_embd, config.bias, config.norm_eps)


def sinusoidal_table(n_pos: int, dim: int) -> torch.Tensor:
    """The fixed position encodings of Vaswani et al. 2017: sin on even, cos on odd channels. (n_pos, dim)"""
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_pos, dim)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)[:, : dim // 2]
    return table


def rope_cache(n_pos: int, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin for rotary embeddings (Su et al. 2021) in the half-split layout of HF Llama. (n_pos, hd)"""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    freqs = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv_freq)  # (n_pos, hd/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (n_pos, hd)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (i, i + hd/2) of x (B, nh, T, hd) by position-dependent angles."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, key_mask: torch.Tensor | None,
           dropout: float = 0.0) -> torch.Tensor:
    """SDPA of queries q (B, nh, T, hd) over keys/values (B, n_kv, S, hd), S >= T.

    The queries are the last T of the S key positions (earlier keys come from a KV cache or a learned
    prefix). `key_mask` (B, S') marks real keys (True) versus padding; when S' < S the missing leading
    positions (a prefix) count as real.
    """
    T, S = q.size(2), k.size(2)
    mask, is_causal = None, causal
    if key_mask is not None or (causal and S != T):
        is_causal = False
        if causal:  # query i sits at position S - T + i and may see keys 0 .. S - T + i
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
        if key_mask is not None:
            if key_mask.size(1) < S:
                lead = key_mask.new_ones(key_mask.size(0), S - key_mask.size(1))
                key_mask = torch.cat([lead, key_mask], dim=1)
            keys = key_mask[:, None, None, :].bool()  # (B, 1, 1, S)
            mask = keys if mask is None else mask & keys
        if mask is not None and T == 1 and key_mask is None:
            mask = None  # one new query sees every key
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, dropout_p=dropout,
                                          enable_gqa=q.size(1) != k.size(1))


class CausalSelfAttention(nn.Module):
    """Multi-head (or grouped-query) self-attention through `F.scaled_dot_product_attention`.

    Causal for decoders; `causal=False` gives the bidirectional attention of encoders. A learned prefix
    (prefix tuning, see roots.train.finetune.adapters) is set as `self.prefix`: a module returning extra
    keys/values (B, n_kv, P, hd) that every query may attend to.
    """

    def __init__(self, config: ModelConfig, causal: bool = True) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.n_kv_head, config.head_dim
        self.causal = causal
        # one fused projection for q, k, v: fewer, larger matmuls
        qkv_dim = (config.n_head + 2 * config.n_kv_head) * config.head_dim
        self.c_attn = nn.Linear(config.n_embd, qkv_dim, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = dropout(config.dropout)
        self.dropout = config.dropout
        self.prefix: nn.Module | None = None

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None,
                kv_cache: KVCache | None = None, key_mask: torch.Tensor | None = None,
                input_pos: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C). With `kv_cache`, keys/values are written at `input_pos` and every cached
        slot is read under `mask` (bool, broadcast to (B, 1, T, S)); without one, attention is causal over
        the sequence (or bidirectional), `mask` replacing it when given and `key_mask` (B, S) marking padding."""
        B, T, C = x.shape
        q, k, v = self.qkv(x, rope)
        if kv_cache is not None:
            k, v = kv_cache.update(input_pos, k, v)  # (B, n_kv, max_len, hd)
        if self.prefix is not None:
            pk, pv = self.prefix(B)  # (B, n_kv, P, hd)
            k, v = torch.cat([pk.to(k.dtype), k], dim=2), torch.cat([pv.to(v.dtype), v], dim=2)
            if mask is not None:  # every query sees the prefix
                mask = torch.cat([mask.new_ones(*mask.shape[:-1], pk.size(2)).expand(mask.size(0), -1, T, -1),
                                  mask.expand(-1, -1, T, -1)], dim=-1)
        p = self.dropout if self.training else 0.0
        if mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                               enable_gqa=self.n_head != self.n_kv_head)
        else:
            y = attend(q, k, v, self.causal, key_mask, p)  # (B, nh, T, hd)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side
        return self.resid_dropout(self.c_proj(y))

    def qkv(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Queries (B, nh, T, hd), keys and values (B, n_kv, T, hd) of x (B, T, C), rotated when `rope`
        gives cos and sin for x's positions ((T, hd) or (B, 1, T, hd))."""
        B, T, _ = x.shape
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        q, k, v = self.c_attn(x).split([q_dim, kv_dim, kv_dim], dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        return q, k, v


class CrossAttention(nn.Module):
    """Decoder-to-encoder attention: queries from x (B, T, C), keys/values from the encoder output."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.q_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.c_kv = nn.Linear(config.n_embd, 2 * config.n_embd, bias=config.bias)  # fused k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = dropout(config.dropout)
        self.dropout = config.dropout

    def memory(self, enc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, nh, S, hd) of the encoder output, computed once per generation."""
        B, S, C = enc.shape
        k, v = self.c_kv(enc).split(C, dim=2)
        return (k.view(B, S, self.n_head, self.head_dim).transpose(1, 2),
                v.view(B, S, self.n_head, self.head_dim).transpose(1, 2))

    def forward(self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor],
                enc_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k, v = memory
        y = attend(q, k, v, False, enc_mask, self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))


class MLP(nn.Module):
    """Position-wise feed-forward: GELU (GPT-2) or SwiGLU (Shazeer 2020, Llama)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.kind = config.mlp
        hidden = config.intermediate_size
        # SwiGLU's gate and up projections are fused into one matmul: c_fc = [gate; up]
        self.c_fc = nn.Linear(config.n_embd, 2 * hidden if self.kind == "swiglu" else hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)  # (B, T, hidden) or (B, T, 2 * hidden)
        if self.kind == "swiglu":
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h, approximate="tanh" if self.kind == "gelu_tanh" else "none")
        return self.dropout(self.c_proj(h))
