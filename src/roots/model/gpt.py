"""A GPT-style decoder-only Transformer (nanoGPT's shape), with Llama-style variants as config fields.

Single-device code: compile, DDP and FSDP are applied by roots.train, never here.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.model.config import ModelConfig
from roots.model.kv_cache import KVCache, causal_mask, new_caches
from roots.model.layers import MLP, CausalSelfAttention, dropout, make_norm, rope_cache, sinusoidal_table


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None,
                kv_cache: KVCache | None = None, input_pos: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), rope, kv_cache, input_pos=input_pos, mask=mask)
        return x + self.mlp(self.ln_2(x))


class TransformerModel(nn.Module):
    """Token embedding -> n_layer blocks -> final norm -> lm_head (optionally tied to the embedding)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "decoder":
            raise ValueError(f"TransformerModel is the decoder; build arch {config.arch!r} with "
                             f"roots.model.build.build_model")
        if config.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (the trainer takes it from the token shards)")
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            drop=dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=make_norm(config),
        ))
        if config.positions == "learned":
            self.transformer["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        elif config.positions == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(config.block_size, config.n_embd), persistent=False)
        else:
            cos, sin = rope_cache(config.block_size, config.head_dim, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer.wte.weight  # https://paperswithcode.com/method/weight-tying
        self.soft_prompt: nn.Module | None = None
        self.apply(self._init_weights)
        # GPT-2: scale the init of residual output projections by 1/sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=config.init_std / math.sqrt(2 * config.n_layer))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> TransformerModel:
        return cls(ModelConfig.from_preset(name, **overrides))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)

    def forward(self, idx: torch.Tensor, input_pos: torch.Tensor | None = None,
                kv_cache: list[KVCache] | None = None, attn_mask: torch.Tensor | None = None, *,
                targets: torch.Tensor | None = None,
                logits_to_keep: int = 0) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, vocab) for token ids idx (B, T); with targets (B, T) also the mean cross-entropy
        (targets equal to -100 are ignored).

        input_pos: the positions of idx, (T,) for every row or (B, T) per row; default 0..T-1.
        kv_cache: one KVCache per layer (`new_kv_cache`); idx then holds only the new tokens, written at
            input_pos, and each query reads its row's slots up to its own position (rows may be ragged).
        attn_mask: bool, broadcast to (B, 1, T, S), replacing the causal mask (S = cache length or T).
        logits_to_keep: project only the last N positions (0: all).
        """
        h = self.features(idx, input_pos, kv_cache, attn_mask)
        logits = self.lm_head(h[:, -logits_to_keep:] if logits_to_keep else h)  # (B, T, vocab)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def features(self, idx: torch.Tensor, input_pos: torch.Tensor | None = None,
                 kv_cache: list[KVCache] | None = None, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The final-norm hidden states (B, T, C) of idx (B, T): what the lm_head and task heads read.

        A soft prompt (prompt tuning, see roots.train.finetune.adapters) set as `self.soft_prompt` is
        prepended as P learned embeddings at positions 0..P-1 (the tokens follow at P..); its outputs
        are not returned. With a cache it is written by the call that holds position 0.
        """
        if kv_cache is not None and input_pos is None:
            raise ValueError("a KV cache needs input_pos: the positions of the new tokens")
        x = self.transformer.wte(idx)  # (B, T, C)
        T = x.size(1)
        if input_pos is None:
            input_pos = torch.arange(T, device=idx.device)
            if self.config.block_size < T:
                raise ValueError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        n_prompt = 0
        if self.soft_prompt is not None:
            if attn_mask is not None:
                raise ValueError("a soft prompt shifts every position; pass no attn_mask with one")
            n_prompt = self.soft_prompt(1).size(1)
            input_pos = input_pos + n_prompt
            if bool((input_pos == n_prompt).any()):  # the call that starts the sequence carries the prompt
                x = torch.cat([self.soft_prompt(x.size(0)).to(x.dtype), x], dim=1)  # (B, P + T, C)
                lead = torch.arange(n_prompt, device=idx.device)
                input_pos = torch.cat([lead if input_pos.dim() == 1 else lead.expand(x.size(0), -1), input_pos],
                                      dim=-1)
            else:
                n_prompt = 0
            if x.size(1) > self.config.block_size:
                raise ValueError(f"sequence of length {x.size(1)} exceeds block_size {self.config.block_size}")
        rope = None
        if self.config.positions == "learned":
            x = x + self.transformer.wpe(input_pos)  # (T, C) broadcast over the batch, or (B, T, C)
        elif self.config.positions == "sinusoidal":
            x = x + self.pos_table[input_pos].to(x.dtype)
        else:  # (T, hd), or (B, 1, T, hd) to broadcast over heads
            cos, sin = self.rope_cos[input_pos], self.rope_sin[input_pos]
            rope = (cos, sin) if input_pos.dim() == 1 else (cos[:, None], sin[:, None])
        mask = attn_mask
        if mask is None and kv_cache is not None:
            mask = causal_mask(input_pos, kv_cache[0].max_len)
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, rope, kv_cache[i] if kv_cache is not None else None, input_pos, mask)
        return self.transformer.ln_f(x)[:, n_prompt:]

    def new_kv_cache(self, batch: int, max_len: int | None = None) -> list[KVCache]:
        """Static per-layer caches for `batch` rows of up to `max_len` (default block_size) positions."""
        p = self.transformer.wte.weight
        c = self.config
        max_len = max_len or c.block_size
        if self.soft_prompt is not None:  # the prompt's positions are cached too
            max_len += self.soft_prompt(1).size(1)
        return new_caches(c.n_layer, batch, c.n_kv_head, max_len, c.head_dim, p.device, p.dtype)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without position embeddings (tied token embeddings count once)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward), PaLM appendix B: 6N + 12 * L * H * Q * T."""
        c = self.config
        T = seq_len or c.block_size
        return 6 * self.num_params() + 12 * c.n_layer * c.n_head * c.head_dim * T
