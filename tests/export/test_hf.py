"""Export to / import from Hugging Face transformers: logits within fp32 tolerance, identical greedy text."""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.common.errors import UserError  # noqa: E402
from roots.export.hf import (  # noqa: E402
    ExportConfig,
    ImportConfig,
    export_hf,
    import_hf,
    run_export,
    run_import,
)
from roots.model.config import ModelConfig  # noqa: E402
from roots.model.gpt import TransformerModel  # noqa: E402
from roots.model.io import load_model, save_model  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. "] * 20


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    tok = Tokenizer.train(TEXTS, kind="bpe", vocab_size=300, min_frequency=1)
    return tok.save(tmp_path_factory.mktemp("tok") / "tok")


def _model(tok_dir, train_steps: int = 0, **fields) -> TransformerModel:
    """A tiny roots model; with `train_steps`, briefly trained on TEXTS so that greedy decoding has clear
    winners (a random model's near-ties would flip on float rounding, in any two implementations)."""
    tok = Tokenizer.load(tok_dir)
    config = ModelConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=32, **fields)
    torch.manual_seed(0)
    model = TransformerModel(config)
    with torch.no_grad():  # move norms off their 1/0 init so a mis-mapped norm cannot hide
        for name, p in model.named_parameters():
            if "ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    ids = torch.tensor([tok.eos_id, *tok.encode(" ".join(TEXTS))])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(train_steps):
        starts = torch.randint(0, len(ids) - 65, (8,), generator=torch.Generator().manual_seed(step))
        batch = torch.stack([ids[s:s + 65] for s in starts])
        _, loss = model(batch[:, :-1], targets=batch[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _greedy(model: TransformerModel, ids: torch.Tensor, n: int) -> torch.Tensor:
    for _ in range(n):
        ids = torch.cat([ids, model(ids)[:, -1:].argmax(-1)], dim=1)
    return ids


GPT2_LIKE = {
    "gpt2": dict(mlp="gelu_tanh"),
    "gpt2-erf-gelu-untied-nobias": dict(mlp="gelu", bias=False, tie_embeddings=False),
    "gpt2-sinusoidal": dict(positions="sinusoidal", mlp="gelu_tanh"),
}
LLAMA_LIKE = {
    "llama-gqa": dict(positions="rope", norm="rmsnorm", mlp="swiglu", bias=False, tie_embeddings=False,
                      n_kv_head=2, intermediate_size=48, rope_theta=500.0),
    "llama-mha-bias-tied": dict(positions="rope", norm="rmsnorm", mlp="swiglu", bias=True,
                                tie_embeddings=True),
}


@pytest.mark.parametrize("name", [*GPT2_LIKE, *LLAMA_LIKE])
def test_export_logits_and_greedy_generation_match(tmp_path, tok_dir, name):
    model = _model(tok_dir, train_steps=40, **{**GPT2_LIKE, **LLAMA_LIKE}[name])
    arch = export_hf(model, tok_dir, tmp_path / "hf")
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    expected = "GPT2LMHeadModel" if name in GPT2_LIKE else "LlamaForCausalLM"
    assert type(hf).__name__ == arch.hf_class == expected

    x = torch.randint(0, model.config.vocab_size, (3, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, model(x), rtol=1e-4, atol=1e-5)

    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    prompt = tok(tok.eos_token + "To be, or not", return_tensors="pt").input_ids
    with torch.no_grad():
        theirs = hf.generate(prompt, max_new_tokens=32, do_sample=False)
        ours = _greedy(model, prompt, 32)
    assert torch.equal(theirs, ours)
    assert tok.decode(theirs[0]) == tok.decode(ours[0])


def test_exported_files(tmp_path, tok_dir):
    model = _model(tok_dir, **GPT2_LIKE["gpt2"])
    export_hf(model, tok_dir, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    eos = Tokenizer.load(tok_dir).eos_id
    assert config["architectures"] == ["GPT2LMHeadModel"] and config["n_ctx"] == 64
    assert config["eos_token_id"] == config["bos_token_id"] == config["pad_token_id"] == eos
    gen = transformers.GenerationConfig.from_pretrained(str(tmp_path / "hf"))
    assert gen.eos_token_id == eos and gen.do_sample is False
    tok_config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert "chat_template" in tok_config
    assert (tmp_path / "hf" / "README.md").read_text().startswith("---\nlibrary_name: transformers")
    assert json.loads((tmp_path / "hf" / "meta.json").read_text())["format"] == "roots.hf_export"


@pytest.mark.parametrize("fields,named", [
    (dict(positions="rope", norm="layernorm", mlp="gelu"),
     ["positions='learned' or 'sinusoidal'", "norm='rmsnorm'"]),
    (dict(positions="learned", norm="rmsnorm", mlp="swiglu"), ["norm='layernorm'", "positions='rope'"]),
    (dict(positions="learned", n_kv_head=2), ["n_kv_head=4"]),
])
def test_inexact_configs_are_refused_naming_the_field(tmp_path, tok_dir, fields, named):
    with pytest.raises(UserError, match="no exact Hugging Face equivalent") as e:
        export_hf(_model(tok_dir, **fields), tok_dir, tmp_path / "hf")
    for text in named:
        assert text in str(e.value)
    assert not (tmp_path / "hf" / "model.safetensors").exists()


def _hf_tiny(kind: str):
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(vocab_size=120, n_positions=48, n_embd=32, n_layer=2, n_head=4,
                                         n_inner=40, bos_token_id=0, eos_token_id=0)
        return transformers.GPT2LMHeadModel(config).eval()
    config = transformers.LlamaConfig(vocab_size=120, hidden_size=32, intermediate_size=48,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                                      max_position_embeddings=48, rope_theta=1000.0, bos_token_id=0,
                                      eos_token_id=0)
    return transformers.LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_import_transformers_saved_model(tmp_path, kind):
    hf = _hf_tiny(kind)
    with torch.no_grad():  # random norms, so a swapped norm would show
        for name, p in hf.named_parameters():
            if "norm" in name or "ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    hf.save_pretrained(str(tmp_path / "hf"))
    model = import_hf(tmp_path / "hf")
    x = torch.randint(0, 120, (2, 48), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(x).logits, rtol=1e-4, atol=1e-5)


def test_import_refuses_unsupported_architectures(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    with pytest.raises(UserError, match="cannot import model_type 'mistral'"):
        import_hf(tmp_path)
    config = _hf_tiny("llama").config
    config.rope_parameters = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    (tmp_path / "config.json").write_text(config.to_json_string())
    with pytest.raises(UserError, match="rope_type='linear'"):
        import_hf(tmp_path)


def test_cli_round_trip_export_then_import(tmp_path, tok_dir):
    model = _model(tok_dir, **LLAMA_LIKE["llama-gqa"])
    save_model(model, tmp_path / "ckpt")
    Tokenizer.load(tok_dir).save(tmp_path / "ckpt" / "tokenizer")
    assert run_export(ExportConfig(model=str(tmp_path / "ckpt"), output=str(tmp_path / "hf"))) == 0
    with pytest.raises(UserError, match="exists"):
        run_export(ExportConfig(model=str(tmp_path / "ckpt"), output=str(tmp_path / "hf")))
    assert run_import(ImportConfig(input=str(tmp_path / "hf"), output=str(tmp_path / "back"))) == 0
    back = load_model(tmp_path / "back")
    for (name, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), name
    back_tok = Tokenizer.load(tmp_path / "back" / "tokenizer")
    assert back_tok.encode("To be") == Tokenizer.load(tok_dir).encode("To be")


def test_bad_inputs_are_clear_errors(tmp_path, tok_dir):
    small = TransformerModel(ModelConfig(vocab_size=100, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(UserError, match="do not belong together"):
        export_hf(small, tok_dir, tmp_path / "hf")
    hf = _hf_tiny("gpt2")
    hf.save_pretrained(str(tmp_path / "broken"))
    from safetensors.torch import load_file, save_file

    weights = load_file(str(tmp_path / "broken" / "model.safetensors"))
    del weights["transformer.h.1.mlp.c_fc.weight"]
    save_file(weights, str(tmp_path / "broken" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(UserError, match=r"weight transformer\.h\.1\.mlp\.c_fc\.weight is missing"):
        import_hf(tmp_path / "broken")
    with pytest.raises(UserError, match=r"no config\.json"):
        import_hf(tmp_path)
