from __future__ import annotations

import torch

from roots.model.config import ModelConfig
from roots.model.gpt import TransformerModel
from roots.model.inspect import attention_maps, nearest_tokens, sentence_embedding


def _attention_output_from_maps(model, idx, maps):
    """Rebuild layer 0's attention output from its maps: must equal what SDPA produced."""
    attn = model.transformer.h[0].attn
    x = model.transformer.h[0].ln_1(model.transformer.wte(idx) + (
        model.transformer.wpe(torch.arange(idx.size(1))) if "wpe" in model.transformer else 0))
    B, T, C = x.shape
    q_dim, kv_dim = attn.n_head * attn.head_dim, attn.n_kv_head * attn.head_dim
    _, _, v = attn.c_attn(x).split([q_dim, kv_dim, kv_dim], dim=2)
    v = v.view(B, T, attn.n_kv_head, attn.head_dim).transpose(1, 2)
    v = v.repeat_interleave(attn.n_head // attn.n_kv_head, dim=1)
    y = (maps[0].unsqueeze(0) @ v).transpose(1, 2).reshape(B, T, C)
    return attn.c_proj(y), attn(x)


def test_attention_maps_reproduce_sdpa():
    torch.manual_seed(0)
    for preset in ("debug", "debug-llama"):
        model = TransformerModel(ModelConfig.from_preset(preset)).eval()
        idx = torch.randint(0, 256, (1, 12))
        maps = attention_maps(model, idx)
        c = model.config
        assert maps.shape == (c.n_layer, c.n_head, 12, 12)
        torch.testing.assert_close(maps.sum(-1), torch.ones(c.n_layer, c.n_head, 12))
        assert torch.all(maps.triu(diagonal=1) == 0)  # causal
        if preset == "debug":  # learned positions: layer 0's input is easy to rebuild
            rebuilt, actual = _attention_output_from_maps(model, idx, maps)
            torch.testing.assert_close(rebuilt, actual, atol=1e-5, rtol=1e-5)


def test_neighbours_and_sentence_vectors():
    torch.manual_seed(0)
    model = TransformerModel(ModelConfig.from_preset("debug")).eval()
    with torch.no_grad():
        model.transformer.wte.weight[5] = model.transformer.wte.weight[7] * 2  # same direction
    assert nearest_tokens(model, 7, k=3)[0][0] == 5
    v = sentence_embedding(model, torch.tensor([[1, 2, 3]]))
    assert v.shape == (model.config.n_embd,)
