"""One model config; architecture variants are fields, and named presets fill them in (litgpt style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal


@dataclass
class ModelConfig:
    """A Transformer: decoder-only (GPT/Llama), encoder (BERT) or encoder-decoder (BART/T5-style seq2seq)."""

    arch: Literal["decoder", "encoder", "encoder-decoder"] = "decoder"
    vocab_size: int = 0  # 0: taken from the token shards' meta.json at training time
    block_size: int = 1024  # maximum context length
    n_layer: int = 12
    n_head: int = 12
    n_kv_head: int = 0  # grouped-query attention when < n_head; 0 means n_head (multi-head attention)
    n_embd: int = 768
    intermediate_size: int = 0  # MLP hidden width; 0 means 4 * n_embd
    positions: Literal["learned", "sinusoidal", "rope"] = "learned"
    rope_theta: float = 10000.0
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    norm_eps: float = 1e-5
    mlp: Literal["gelu", "gelu_tanh", "swiglu"] = "gelu"
    bias: bool = True  # bias in Linear layers and LayerNorm
    tie_embeddings: bool = True  # lm_head shares the token embedding matrix
    dropout: float = 0.0
    init_std: float = 0.02
    # encoder and encoder-decoder families (BERT, BART): post-norm blocks with a norm after the embeddings
    norm_position: Literal["pre", "post"] = "pre"
    type_vocab_size: int = 2  # encoder: segment (token type) embeddings for sentence pairs
    n_decoder_layer: int = 0  # encoder-decoder: decoder depth; 0 means n_layer

    def __post_init__(self) -> None:
        if self.n_kv_head == 0:
            self.n_kv_head = self.n_head
        if self.n_decoder_layer == 0:
            self.n_decoder_layer = self.n_layer
        if self.intermediate_size == 0:
            self.intermediate_size = 4 * self.n_embd
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head ({self.n_head}) must be divisible by n_kv_head ({self.n_kv_head})")
        if self.positions == "rope" and self.head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {self.head_dim}")
        if self.arch != "decoder" and self.positions == "rope":
            raise ValueError(f"arch {self.arch!r} supports learned or sinusoidal positions, not rope")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset (see `PRESETS`), with any field overridden."""
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)


_GPT2 = dict(vocab_size=50304, block_size=1024, positions="learned", norm="layernorm", mlp="gelu_tanh",
             bias=True, tie_embeddings=True)  # 50304 = 50257 padded to a multiple of 64 (nanoGPT)
_LLAMA = dict(positions="rope", norm="rmsnorm", mlp="swiglu", bias=False, tie_embeddings=False)

_BERT = dict(arch="encoder", vocab_size=30522, block_size=512, positions="learned", norm="layernorm",
             norm_position="post", norm_eps=1e-12, mlp="gelu", bias=True, tie_embeddings=True)
_BART = dict(arch="encoder-decoder", vocab_size=50265, block_size=1024, positions="learned", norm="layernorm",
             norm_position="post", mlp="gelu", bias=True, tie_embeddings=True)

PRESETS: dict[str, dict[str, Any]] = {
    # GPT-2 family (Radford et al. 2019) and minGPT's small siblings
    "gpt2-124m": dict(_GPT2, n_layer=12, n_head=12, n_embd=768),
    "gpt2-350m": dict(_GPT2, n_layer=24, n_head=16, n_embd=1024),
    "gpt2-774m": dict(_GPT2, n_layer=36, n_head=20, n_embd=1280),
    "gpt2-1558m": dict(_GPT2, n_layer=48, n_head=25, n_embd=1600),
    "gpt2-mini": dict(_GPT2, n_layer=6, n_head=6, n_embd=192),
    "gpt2-micro": dict(_GPT2, n_layer=4, n_head=4, n_embd=128),
    "gpt2-nano": dict(_GPT2, n_layer=3, n_head=3, n_embd=48),
    # Llama-style: RoPE, RMSNorm, SwiGLU, no biases, grouped-query attention
    "llama2-7b": dict(_LLAMA, vocab_size=32000, block_size=4096, n_layer=32, n_head=32, n_embd=4096,
                      intermediate_size=11008, norm_eps=1e-5),
    "tinyllama-1.1b": dict(_LLAMA, vocab_size=32000, block_size=2048, n_layer=22, n_head=32, n_kv_head=4,
                           n_embd=2048, intermediate_size=5632, norm_eps=1e-5),
    "smollm-135m": dict(_LLAMA, vocab_size=49152, block_size=2048, n_layer=30, n_head=9, n_kv_head=3,
                        n_embd=576, intermediate_size=1536, tie_embeddings=True, norm_eps=1e-5),
    "llama-micro": dict(_LLAMA, vocab_size=32000, block_size=256, n_layer=4, n_head=4, n_kv_head=2,
                        n_embd=128, intermediate_size=352),
    # BERT (Devlin et al. 2019): post-norm encoder, learned positions, exact GELU, WordPiece 30522
    "bert-base": dict(_BERT, n_layer=12, n_head=12, n_embd=768),
    "bert-mini": dict(_BERT, n_layer=4, n_head=4, n_embd=256, block_size=256),
    # BART (Lewis et al. 2020): post-norm encoder-decoder
    "bart-base": dict(_BART, n_layer=6, n_head=12, n_embd=768),
    "bart-mini": dict(_BART, n_layer=3, n_head=4, n_embd=256, block_size=256),
    # tiny debug sizes for tests
    "debug": dict(_GPT2, vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=32),
    "debug-bert": dict(_BERT, vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=32),
    "debug-bart": dict(_BART, vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=32),
    "debug-llama": dict(_LLAMA, vocab_size=256, block_size=64, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
                        intermediate_size=64),
}
