"""A BERT-style encoder: bidirectional self-attention, token type embeddings, pooler, MLM and NSP heads.

The same `ModelConfig` as the decoder with `arch: encoder`; the layers (attention, MLP, norms) are the
decoder's, with `causal=False`. BERT itself is post-norm (`norm_position: post`): a LayerNorm after the
embeddings and after each residual sum, no final norm.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.model.config import ModelConfig
from roots.model.layers import MLP, CausalSelfAttention, dropout, make_norm, sinusoidal_table


class EncoderBlock(nn.Module):
    """Bidirectional self-attention + MLP, post-norm (BERT, BART) or pre-norm."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.post_norm = config.norm_position == "post"
        self.attn = CausalSelfAttention(config, causal=False)
        self.ln_1 = make_norm(config)
        self.mlp = MLP(config)
        self.ln_2 = make_norm(config)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.post_norm:
            x = self.ln_1(x + self.attn(x, key_mask=key_mask))
            return self.ln_2(x + self.mlp(x))
        x = x + self.attn(self.ln_1(x), key_mask=key_mask)
        return x + self.mlp(self.ln_2(x))


class Embeddings(nn.Module):
    """Token + position (+ token type) embeddings, then the embedding norm of post-norm models."""

    def __init__(self, config: ModelConfig, type_vocab_size: int = 0) -> None:
        super().__init__()
        self.learned = config.positions == "learned"
        if self.learned:
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
        else:
            self.register_buffer("pos_table", sinusoidal_table(config.block_size, config.n_embd), persistent=False)
        self.wtt = nn.Embedding(type_vocab_size, config.n_embd) if type_vocab_size else None
        self.ln_emb = make_norm(config) if config.norm_position == "post" else nn.Identity()
        self.drop = dropout(config.dropout)
        self.block_size = config.block_size
        self.soft_prompt: nn.Module | None = None  # prompt tuning (roots.train.finetune.adapters)

    def forward(self, x: torch.Tensor, token_type: torch.Tensor | None = None,
                input_pos: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """Embeddings (B, T, C) from the token embeddings x (B, T, C) at positions input_pos ((T,) or (B, T);
        default 0..), and the number P of soft-prompt vectors prepended in front (the output then has
        P + T positions; only without input_pos)."""
        B, T = x.shape[:2]
        if self.wtt is not None:
            if token_type is None:
                token_type = torch.zeros(B, T, dtype=torch.long, device=x.device)
            x = x + self.wtt(token_type)
        n_prompt = 0
        if input_pos is None:
            if self.soft_prompt is not None:
                prompt = self.soft_prompt(B).to(x.dtype)  # (B, P, C)
                n_prompt = prompt.size(1)
                x = torch.cat([prompt, x], dim=1)
            T = x.size(1)
            if self.block_size < T:
                raise ValueError(f"sequence of length {T} exceeds block_size {self.block_size}")
            input_pos = torch.arange(T, device=x.device)
        if self.learned:
            x = x + self.wpe(input_pos)
        else:
            x = x + self.pos_table[input_pos].to(x.dtype)
        return self.drop(self.ln_emb(x)), n_prompt


def init_weights(model: nn.Module, config: ModelConfig) -> None:
    """GPT-2/BERT init: N(0, init_std) matrices and embeddings, zero biases, unit norms; residual output
    projections scaled by 1/sqrt(2 * n_layer)."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=config.init_std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=config.init_std / math.sqrt(2 * config.n_layer))


def pad_mask(key_mask: torch.Tensor | None, n_prompt: int) -> torch.Tensor | None:
    """The key mask with P soft-prompt positions (always real) in front."""
    if key_mask is None or n_prompt == 0:
        return key_mask
    return torch.cat([key_mask.new_ones(key_mask.size(0), n_prompt), key_mask], dim=1)


class BertModel(nn.Module):
    """Encoder stack + pooler + pretraining heads (masked LM tied to the token embedding, next sentence)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "encoder":
            raise ValueError(f"BertModel needs arch 'encoder', got {config.arch!r}")
        if config.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (the trainer takes it from the token shards)")
        self.config = config
        C = config.n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, C),
            emb=Embeddings(config, config.type_vocab_size),
            h=nn.ModuleList([EncoderBlock(config) for _ in range(config.n_layer)]),
            ln_f=make_norm(config) if config.norm_position == "pre" else nn.Identity(),
        ))
        self.pooler = nn.Linear(C, C)
        # MLM head: transform (dense, GELU, norm), then the tied decoder with its own output bias
        self.mlm_dense = nn.Linear(C, C)
        self.mlm_norm = make_norm(config)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=True)
        self.nsp_head = nn.Linear(C, 2)
        init_weights(self, config)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer.wte.weight

    def features(self, idx: torch.Tensor, token_type: torch.Tensor | None = None,
                 key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Sequence output (B, T, C) for idx (B, T); key_mask (B, T) is 1 for real tokens, 0 for padding."""
        x, n_prompt = self.transformer.emb(self.transformer.wte(idx), token_type)
        key_mask = pad_mask(key_mask, n_prompt)
        for block in self.transformer.h:
            x = block(x, key_mask)
        return self.transformer.ln_f(x)[:, n_prompt:]

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """BERT's pooled output: tanh(W h[CLS]) (B, C), what sentence-level heads read."""
        return torch.tanh(self.pooler(h[:, 0]))

    def forward(self, idx: torch.Tensor, token_type: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, mlm_targets: torch.Tensor | None = None,
                nsp_targets: torch.Tensor | None = None) -> Any:
        """MLM logits (B, T, vocab) and NSP logits (B, 2). With mlm_targets (-100 where not predicted) also
        the loss (mean MLM cross-entropy over predicted positions + NSP cross-entropy), and then the MLM
        logits of the predicted positions only (N_predicted, vocab)."""
        h = self.features(idx, token_type, key_mask)
        nsp_logits = self.nsp_head(self.pool(h))
        if mlm_targets is None:
            return self.mlm_logits(h), nsp_logits
        # training: the vocabulary projection only where a token is predicted (~15%), its largest matmul
        predicted = mlm_targets != -100
        mlm_logits = self.mlm_logits(h[predicted])  # (N_predicted, vocab)
        loss = F.cross_entropy(mlm_logits.float(), mlm_targets[predicted])
        if nsp_targets is not None:
            loss = loss + F.cross_entropy(nsp_logits.float(), nsp_targets)
        return (mlm_logits, nsp_logits), loss

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """The MLM head: transform (dense, GELU, norm), then the tied vocabulary projection. (..., vocab)"""
        return self.lm_head(self.mlm_norm(F.gelu(self.mlm_dense(h))))

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.transformer.emb.learned:
            n -= self.transformer.emb.wpe.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_head * c.head_dim * (seq_len or c.block_size)
