"""The model against Hugging Face's GPT-2 and Llama: copy tiny random weights over, compare logits."""

from __future__ import annotations

import pytest
import torch

from roots.model.build import build_model
from roots.model.config import PRESETS, ModelConfig
from roots.model.gpt import TransformerModel
from roots.model.io import load_model, save_model

transformers = pytest.importorskip("transformers")


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Random norms and biases too, so that a wrongly mapped weight cannot hide behind ones/zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _to_hf_gpt2(model: TransformerModel):
    c = model.config
    hf_config = transformers.GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
        n_head=c.n_head, activation_function="gelu_new", layer_norm_epsilon=c.norm_eps,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
    )
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    sd = model.state_dict()
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    # HF GPT-2 stores Linear weights as Conv1D, i.e. transposed
    mapped = {k: (v.t() if k.endswith(conv1d) else v) for k, v in sd.items()}
    missing, unexpected = hf.load_state_dict(mapped, strict=False)
    assert not unexpected, unexpected
    assert all(".attn.bias" in k or ".attn.masked_bias" in k for k in missing), missing
    return hf


def _to_hf_llama(model: TransformerModel):
    c = model.config
    hf_config = transformers.LlamaConfig(
        vocab_size=c.vocab_size, hidden_size=c.n_embd, intermediate_size=c.intermediate_size,
        num_hidden_layers=c.n_layer, num_attention_heads=c.n_head, num_key_value_heads=c.n_kv_head,
        max_position_embeddings=c.block_size, rms_norm_eps=c.norm_eps, tie_word_embeddings=c.tie_embeddings,
        attention_bias=False, mlp_bias=False,
    )
    hf = transformers.LlamaForCausalLM(hf_config).eval()
    sd = model.state_dict()
    q_dim, kv_dim = c.n_head * c.head_dim, c.n_kv_head * c.head_dim
    mapped = {"model.embed_tokens.weight": sd["transformer.wte.weight"],
              "model.norm.weight": sd["transformer.ln_f.weight"], "lm_head.weight": sd["lm_head.weight"]}
    for i in range(c.n_layer):
        p, q = f"transformer.h.{i}.", f"model.layers.{i}."
        wq, wk, wv = sd[p + "attn.c_attn.weight"].split([q_dim, kv_dim, kv_dim])
        gate, up = sd[p + "mlp.c_fc.weight"].chunk(2)
        mapped.update({
            q + "input_layernorm.weight": sd[p + "ln_1.weight"],
            q + "post_attention_layernorm.weight": sd[p + "ln_2.weight"],
            q + "self_attn.q_proj.weight": wq, q + "self_attn.k_proj.weight": wk,
            q + "self_attn.v_proj.weight": wv, q + "self_attn.o_proj.weight": sd[p + "attn.c_proj.weight"],
            q + "mlp.gate_proj.weight": gate, q + "mlp.up_proj.weight": up,
            q + "mlp.down_proj.weight": sd[p + "mlp.c_proj.weight"],
        })
    hf.load_state_dict(mapped, strict=True)
    return hf


def _tokens(config: ModelConfig, B: int = 2, T: int = 17) -> torch.Tensor:
    return torch.randint(0, config.vocab_size, (B, T), generator=torch.Generator().manual_seed(1))


def test_gpt2_logits_match_hf():
    model = TransformerModel.from_preset("debug").eval()
    _randomize(model)
    hf = _to_hf_gpt2(model)
    idx = _tokens(model.config)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, rtol=1e-4, atol=1e-4)
    assert model.num_params(non_embedding=False) == sum(p.numel() for p in hf.parameters())


@pytest.mark.parametrize("n_kv_head", [4, 2, 1])  # multi-head, grouped-query, multi-query
def test_llama_logits_match_hf(n_kv_head):
    model = TransformerModel.from_preset("debug-llama", n_kv_head=n_kv_head).eval()
    _randomize(model)
    hf = _to_hf_llama(model)
    idx = _tokens(model.config)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, rtol=1e-4, atol=1e-4)
    assert model.num_params() == sum(p.numel() for p in hf.parameters())


@pytest.mark.parametrize("preset,overrides", [
    ("debug", {}), ("debug", {"positions": "sinusoidal", "bias": False, "tie_embeddings": False}),
    ("debug-llama", {}), ("debug-llama", {"positions": "learned", "mlp": "gelu", "norm": "layernorm"}),
])
def test_kv_cache_matches_full_forward(preset, overrides):
    model = TransformerModel.from_preset(preset, **overrides).eval()
    idx = _tokens(model.config, T=12)
    with torch.no_grad():
        full = model(idx)
        cache = model.new_kv_cache(batch=2)
        # a prefill of 5 positions, then a chunk of 3 (needs an explicit mask), then one token at a time
        pos = torch.arange(12)
        parts = [model(idx[:, :5], pos[:5], cache), model(idx[:, 5:8], pos[5:8], cache)]
        parts += [model(idx[:, t : t + 1], pos[t : t + 1], cache) for t in range(8, 12)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset,overrides", [
    ("debug", {}), ("debug", {"positions": "sinusoidal"}), ("debug-llama", {}),
])
def test_ragged_rows_in_one_cache_equal_single_row_runs(preset, overrides):
    """Rows of different lengths share one static cache, each at its own positions (continuous batching):
    the prefill of ragged prompts (right-padded) and the per-row decode steps give each row the logits of
    running that row alone."""
    model = TransformerModel.from_preset(preset, **overrides).eval()
    lengths = [3, 7, 5]
    g = torch.Generator().manual_seed(2)
    seqs = [torch.randint(0, 256, (n + 4,), generator=g) for n in lengths]  # prompt + 4 decoded tokens
    with torch.no_grad():
        alone = [model(s[None])[0] for s in seqs]  # (n + 4, V) each, no cache
        cache = model.new_kv_cache(batch=3, max_len=16)
        width = max(lengths)
        prompts = torch.zeros(3, width, dtype=torch.long)
        for r, n in enumerate(lengths):
            prompts[r, :n] = seqs[r][:n]
        pos = torch.arange(width).expand(3, -1)  # padding past a row's end is overwritten before it is read
        prefill = model(prompts, pos, cache)
        for r, n in enumerate(lengths):
            torch.testing.assert_close(prefill[r, :n], alone[r][:n], rtol=1e-5, atol=1e-5)
        for step in range(4):
            ids = torch.stack([s[n + step] for s, n in zip(seqs, lengths)])[:, None]  # (3, 1)
            row_pos = torch.tensor(lengths)[:, None] + step  # (3, 1): each row at its own position
            logits = model(ids, row_pos, cache)[:, 0]
            for r, n in enumerate(lengths):
                torch.testing.assert_close(logits[r], alone[r][n + step], rtol=1e-5, atol=1e-5)


def test_logits_to_keep_projects_the_last_positions():
    model = TransformerModel.from_preset("debug").eval()
    idx = _tokens(model.config)
    with torch.no_grad():
        torch.testing.assert_close(model(idx, logits_to_keep=2), model(idx)[:, -2:])


def test_loss_is_cross_entropy_and_ignores_minus_100():
    model = TransformerModel.from_preset("debug")
    idx = _tokens(model.config)
    targets = idx.roll(-1, dims=1)
    targets[:, -1] = -100
    logits, loss = model(idx, targets=targets)
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 256), targets[:, :-1].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_gpt2_124m_counts():
    # meta device: the count without allocating 124M parameters
    with torch.device("meta"):
        model = TransformerModel.from_preset("gpt2-124m", vocab_size=50257)
    assert model.num_params() == 124_439_808 - 1024 * 768  # GPT-2 small, without position embeddings
    # nanoGPT's estimate_mfu: 6N + 12 L H Q T
    assert model.flops_per_token(1024) == 6 * model.num_params() + 12 * 12 * 12 * 64 * 1024


def test_gpt2_style_init():
    model = TransformerModel.from_preset("gpt2-mini", vocab_size=512)
    std = model.transformer.h[0].attn.c_proj.weight.std().item()
    assert abs(std - 0.02 / (2 * 6) ** 0.5) < 2e-3
    assert abs(model.transformer.h[0].mlp.c_fc.weight.std().item() - 0.02) < 2e-3
    assert model.lm_head.weight is model.transformer.wte.weight


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(n_head=4, n_kv_head=3, n_embd=32)
    with pytest.raises(ValueError, match="unknown model preset"):
        ModelConfig.from_preset("gpt5")
    with pytest.raises(ValueError, match="vocab_size"):
        TransformerModel(ModelConfig(n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(ValueError, match="block_size"):
        TransformerModel.from_preset("debug")(torch.zeros(1, 65, dtype=torch.long))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds(name):
    with torch.device("meta"):
        model = build_model(ModelConfig.from_preset(name))  # every family's presets
    assert model.num_params() > 0


def test_save_load_round_trip(tmp_path):
    model = TransformerModel.from_preset("debug").eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path).eval()
    idx = _tokens(model.config)
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
