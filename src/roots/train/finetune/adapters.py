"""Parameter-efficient adapters, attached to any roots model without changing its class.

- LoRA (Hu et al. 2021): W x + (alpha / r) B A x on chosen Linear layers; A, B train, W stays frozen;
  `merge_lora` folds B A into W for serving with no extra cost.
- Prefix tuning (Li & Liang 2021): P learned key/value vectors per self-attention layer, which every
  query attends to (set as `attn.prefix`, see roots.model.layers).
- Prompt tuning (Lester et al. 2021): P learned input embeddings in front of the sequence (set as the
  model's `soft_prompt`).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from roots.model.layers import CausalSelfAttention


class LoRALinear(nn.Module):
    """A frozen Linear plus a trainable low-rank update: y = base(x) + scale * B(A(dropout(x)))."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as nn.Linear; B = 0 so training starts at W
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        """The base Linear with the update folded in: W + scale * B A."""
        with torch.no_grad():
            self.base.weight += (self.lora_b @ self.lora_a * self.scale).to(self.base.weight.dtype)
        return self.base


def apply_lora(model: nn.Module, rank: int, alpha: float, targets: list[str], dropout: float = 0.0) -> int:
    """Wrap every Linear whose attribute name is in `targets` (e.g. c_attn, c_proj, c_fc, q_proj, c_kv);
    returns how many were wrapped."""
    found = [(parent, name) for parent in model.modules() for name, child in parent.named_children()
             if name in targets and isinstance(child, nn.Linear)]
    if not found:
        raise ValueError(f"no Linear layer named {targets} in the model")
    for parent, name in found:
        setattr(parent, name, LoRALinear(getattr(parent, name), rank, alpha, dropout))
    return len(found)


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear by its merged Linear, in place; the model is a plain model again."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                setattr(parent, name, child.merged())
    return model


class PrefixKV(nn.Module):
    """P learned keys and values (n_kv, P, hd) for one attention layer."""

    def __init__(self, n_kv_head: int, length: int, head_dim: int, std: float) -> None:
        super().__init__()
        self.key = nn.Parameter(torch.randn(n_kv_head, length, head_dim) * std)
        self.value = nn.Parameter(torch.randn(n_kv_head, length, head_dim) * std)

    def forward(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.key.expand(batch, -1, -1, -1), self.value.expand(batch, -1, -1, -1)  # (B, n_kv, P, hd)


def apply_prefix(model: nn.Module, length: int) -> int:
    """Give every self-attention layer a learned prefix of `length` positions; returns the layer count."""
    layers = [m for m in model.modules() if isinstance(m, CausalSelfAttention)]
    for attn in layers:
        # keys/values of real tokens have about unit scale after the projections of a trained model
        attn.prefix = PrefixKV(attn.n_kv_head, length, attn.head_dim, std=1.0).to(attn.c_attn.weight.device)
    return len(layers)


class SoftPrompt(nn.Module):
    """P learned input embeddings (P, C), prepended to every sequence."""

    def __init__(self, init: torch.Tensor) -> None:
        super().__init__()
        self.embeddings = nn.Parameter(init.clone())

    def forward(self, batch: int) -> torch.Tensor:
        return self.embeddings.expand(batch, -1, -1)  # (B, P, C)


def apply_prompt(model: nn.Module, length: int, seed: int = 0) -> None:
    """Attach a soft prompt, initialized from the embeddings of random vocabulary tokens (Lester et al.
    found this better than random vectors)."""
    wte = model.transformer.wte.weight
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, wte.size(0), (length,), generator=g).to(wte.device)
    prompt = SoftPrompt(wte.detach()[rows])
    if hasattr(model.transformer, "emb"):  # encoder and encoder-decoder: the encoder's input
        model.transformer.emb.soft_prompt = prompt
    else:
        model.soft_prompt = prompt
