"""A static KV cache (gpt-fast / litgpt style): one preallocated buffer per layer, slot = position.

Each row writes its keys/values at its own positions, so the rows of one batch may hold sequences of
different lengths (ragged): a query at position p sees the slots 0..p of its own row, and slots a row has
not written yet are never visible to it. Nothing is allocated per token; the buffers are updated in place.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class KVCache(nn.Module):
    """Keys and values of one attention layer: (B, n_kv_head, max_len, head_dim), written at positions."""

    def __init__(self, batch: int, n_kv_head: int, max_len: int, head_dim: int,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        shape = (batch, n_kv_head, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)

    @property
    def max_len(self) -> int:
        return self.k.size(2)

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, n_kv, T, hd) at positions input_pos ((T,) shared, or (B, T) per row); return the
        whole cache (B, n_kv, max_len, hd), to be read under `causal_mask`."""
        if input_pos.dim() == 1:
            self.k.index_copy_(2, input_pos, k.to(self.k.dtype))
            self.v.index_copy_(2, input_pos, v.to(self.v.dtype))
        else:
            index = input_pos[:, None, :, None].expand(-1, k.size(1), -1, k.size(3))
            self.k.scatter_(2, index, k.to(self.k.dtype))
            self.v.scatter_(2, index, v.to(self.v.dtype))
        return self.k, self.v

    def reorder(self, order: torch.Tensor) -> None:
        """Rows follow `order` (B,) (beam search: each beam continues from the one it was chosen from)."""
        self.k.copy_(self.k.index_select(0, order))
        self.v.copy_(self.v.index_select(0, order))


class GrowingKVCache:
    """The serving engine's cache layout: past keys/values (B, n_kv, L, hd) as given, grown by concatenation.

    The engine keeps its rows right-aligned (left padding), so slots are columns, not positions: the caller
    passes the attention mask over the columns.
    """

    def __init__(self, k: torch.Tensor | None = None, v: torch.Tensor | None = None) -> None:
        self.k, self.v = k, v

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is not None:
            k, v = torch.cat([self.k, k.to(self.k.dtype)], dim=2), torch.cat([self.v, v.to(self.v.dtype)], dim=2)
        self.k, self.v = k, v
        return k, v


def new_caches(n_layer: int, batch: int, n_kv_head: int, max_len: int, head_dim: int,
               device: torch.device | str, dtype: torch.dtype) -> list[KVCache]:
    return [KVCache(batch, n_kv_head, max_len, head_dim, device, dtype) for _ in range(n_layer)]


def causal_mask(input_pos: torch.Tensor, max_len: int) -> torch.Tensor:
    """Which cache slots each query may read: slot j for a query at position p iff j <= p.

    input_pos (T,) or (B, T) -> bool (1 or B, 1, T, max_len), broadcast over heads.
    """
    slots = torch.arange(max_len, device=input_pos.device)
    mask = slots <= input_pos[..., None]  # (T, S) or (B, T, S)
    return mask[None, None] if mask.dim() == 2 else mask[:, None]
