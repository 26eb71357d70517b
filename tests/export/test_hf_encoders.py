"""Export / import of the encoder (BERT) and encoder-decoder (BART) families through Hugging Face transformers:
logits within fp32 tolerance, identical greedy generation, and exact-or-refuse configs."""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.common.errors import UserError  # noqa: E402
from roots.export.hf import ExportConfig, ImportConfig, export_hf, import_hf, run_export, run_import  # noqa: E402
from roots.model.build import build_model  # noqa: E402
from roots.model.config import ModelConfig  # noqa: E402
from roots.model.io import load_model, save_model  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. "] * 20


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    tok = Tokenizer.train(TEXTS, kind="bpe", vocab_size=300, min_frequency=1)
    return tok.save(tmp_path_factory.mktemp("tok") / "tok")


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights, norms and biases included (a mis-mapped norm or bias cannot hide behind 1/0), large
    enough that greedy decoding has clear winners rather than float-rounding ties."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():  # tied weights are one parameter here, so they stay tied
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model.eval()


def _model(tok_dir, preset: str, **fields) -> torch.nn.Module:
    vocab = Tokenizer.load(tok_dir).vocab_size
    return _randomize(build_model(ModelConfig.from_preset(preset, vocab_size=vocab, n_head=4, **fields)))


BERT_LIKE = {
    "bert": {},
    "bert-untied-nobias-sinusoidal-no-segments": dict(tie_embeddings=False, bias=False, positions="sinusoidal",
                                                      type_vocab_size=0),
}
BART_LIKE = {
    "bart": {},
    "bart-untied-nobias-sinusoidal-gelu-tanh-deeper-decoder": dict(
        tie_embeddings=False, bias=False, positions="sinusoidal", mlp="gelu_tanh", n_decoder_layer=3),
}


@pytest.mark.parametrize("name", BERT_LIKE)
def test_bert_export_matches_transformers(tmp_path, tok_dir, name):
    model = _model(tok_dir, "debug-bert", **BERT_LIKE[name])
    arch = export_hf(model, tok_dir, tmp_path / "hf")
    hf = transformers.AutoModelForPreTraining.from_pretrained(str(tmp_path / "hf")).eval()
    assert type(hf).__name__ == arch.hf_class == "BertForPreTraining"

    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, model.config.vocab_size, (2, 20), generator=g)
    types = torch.zeros_like(idx)
    if model.config.type_vocab_size:
        types[:, 9:] = 1  # a sentence pair
    mask = torch.ones_like(idx)
    mask[1, 14:] = 0  # padding in the second row
    with torch.no_grad():
        mlm, nsp = model(idx, types, mask)
        ref = hf(input_ids=idx, token_type_ids=types, attention_mask=mask)
    torch.testing.assert_close(ref.prediction_logits, mlm, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ref.seq_relationship_logits, nsp, rtol=1e-4, atol=1e-5)

    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    eos = Tokenizer.load(tok_dir).eos_id
    assert config["architectures"] == ["BertForPreTraining"] and config["model_type"] == "bert"
    assert config["vocab_size"] == model.config.vocab_size and config["pad_token_id"] == eos
    assert config["type_vocab_size"] == max(1, model.config.type_vocab_size)
    assert not (tmp_path / "hf" / "generation_config.json").exists()
    assert "pipeline_tag: fill-mask" in (tmp_path / "hf" / "README.md").read_text()


@pytest.mark.parametrize("name", BART_LIKE)
def test_bart_export_matches_transformers_logits_and_greedy_generation(tmp_path, tok_dir, name):
    model = _model(tok_dir, "debug-bart", **BART_LIKE[name])
    arch = export_hf(model, tok_dir, tmp_path / "hf")
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert type(hf).__name__ == arch.hf_class == "BartForConditionalGeneration"

    g = torch.Generator().manual_seed(2)
    src = torch.randint(1, model.config.vocab_size, (2, 12), generator=g)
    tgt = torch.randint(1, model.config.vocab_size, (2, 9), generator=g)
    mask = torch.ones_like(src)
    mask[0, 8:] = 0
    with torch.no_grad():
        logits = model(src, tgt, mask)
        ref = hf(input_ids=src, attention_mask=mask, decoder_input_ids=tgt).logits
    torch.testing.assert_close(ref, logits, rtol=1e-4, atol=1e-5)

    tok = Tokenizer.load(tok_dir)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["decoder_start_token_id"] == config["pad_token_id"] == config["eos_token_id"] == tok.eos_id
    assert config["forced_eos_token_id"] is None and config["forced_bos_token_id"] is None
    gen = transformers.GenerationConfig.from_pretrained(str(tmp_path / "hf"))
    assert gen.decoder_start_token_id == tok.eos_id and gen.do_sample is False

    prompt = torch.tensor([tok.encode("To be, or not to be")])
    ours = model.generate(prompt, start_id=tok.eos_id, eos_id=tok.eos_id, max_new_tokens=16)[0]
    with torch.no_grad():
        out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=16)[0].tolist()
    theirs = out[1:]  # after the decoder start token, up to (excluding) EOS, as roots returns it
    theirs = theirs[: theirs.index(tok.eos_id)] if tok.eos_id in theirs else theirs
    assert len(ours) >= 8, ours  # a real comparison, not two empty outputs
    assert theirs == ours


def _hf_bert():
    config = transformers.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=40, max_position_embeddings=48, type_vocab_size=3,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return _randomize(transformers.BertForPreTraining(config))


def _hf_bart(**fields):
    config = transformers.BartConfig(vocab_size=120, d_model=32, encoder_layers=2, decoder_layers=3,
                                     encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=40,
                                     decoder_ffn_dim=40, max_position_embeddings=48, dropout=0.0,
                                     pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
                                     **fields)
    hf = _randomize(transformers.BartForConditionalGeneration(config))
    hf.final_logits_bias.zero_()  # a buffer, randomized by nothing; zero is what BART checkpoints hold
    return hf


def test_import_transformers_saved_bert(tmp_path):
    hf = _hf_bert()
    hf.save_pretrained(str(tmp_path / "hf"))
    model = import_hf(tmp_path / "hf")
    assert model.config.arch == "encoder" and model.config.type_vocab_size == 3
    idx = torch.randint(0, 120, (2, 48), generator=torch.Generator().manual_seed(3))
    types = torch.randint(0, 3, (2, 48), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        mlm, nsp = model(idx, types)
        ref = hf(input_ids=idx, token_type_ids=types)
    torch.testing.assert_close(mlm, ref.prediction_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(nsp, ref.seq_relationship_logits, rtol=1e-4, atol=1e-5)


def test_import_transformers_saved_bart(tmp_path):
    hf = _hf_bart()
    hf.save_pretrained(str(tmp_path / "hf"))
    model = import_hf(tmp_path / "hf")
    assert model.config.arch == "encoder-decoder" and model.config.n_decoder_layer == 3
    g = torch.Generator().manual_seed(5)
    src, tgt = torch.randint(0, 120, (2, 30), generator=g), torch.randint(0, 120, (2, 48), generator=g)
    with torch.no_grad():
        torch.testing.assert_close(model(src, tgt), hf(input_ids=src, decoder_input_ids=tgt).logits,
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("preset,fields,named", [
    ("debug-bert", dict(norm_position="pre"), ["BertForPreTraining needs norm_position='post'"]),
    ("debug-bert", dict(mlp="gelu_tanh", norm="rmsnorm"), ["mlp='gelu'", "norm='layernorm'"]),
    ("debug-bart", dict(norm_eps=1e-12), ["BartForConditionalGeneration needs norm_eps=1e-05"]),
    ("debug-bart", dict(mlp="swiglu", n_kv_head=2), ["mlp='gelu' or 'gelu_tanh'", "n_kv_head=4"]),
])
def test_inexact_configs_are_refused_naming_the_field(tmp_path, tok_dir, preset, fields, named):
    with pytest.raises(UserError, match="no exact Hugging Face equivalent") as e:
        export_hf(_model(tok_dir, preset, **fields), tok_dir, tmp_path / "hf")
    for text in named:
        assert text in str(e.value)
    assert not (tmp_path / "hf" / "model.safetensors").exists()


def test_import_refuses_what_roots_cannot_represent(tmp_path):
    bert = _hf_bert()
    bert.config.hidden_act = "relu"
    bert.save_pretrained(str(tmp_path / "bert"))
    with pytest.raises(UserError, match="BERT hidden_act='relu'"):
        import_hf(tmp_path / "bert")
    with pytest.raises(UserError, match="BART scale_embedding=true"):
        _hf_bart(scale_embedding=True).save_pretrained(str(tmp_path / "scaled"))
        import_hf(tmp_path / "scaled")
    bart = _hf_bart()
    bart.final_logits_bias.fill_(0.5)
    bart.save_pretrained(str(tmp_path / "biased"))
    with pytest.raises(UserError, match="final_logits_bias is not zero"):
        import_hf(tmp_path / "biased")


@pytest.mark.parametrize("preset", ["debug-bert", "debug-bart"])
def test_cli_round_trip_export_then_import(tmp_path, tok_dir, preset, capsys):
    model = _model(tok_dir, preset)
    save_model(model, tmp_path / "ckpt")
    Tokenizer.load(tok_dir).save(tmp_path / "ckpt" / "tokenizer")
    assert run_export(ExportConfig(model=str(tmp_path / "ckpt"), output=str(tmp_path / "hf"))) == 0
    assert "logits match" in capsys.readouterr().out
    assert run_import(ImportConfig(input=str(tmp_path / "hf"), output=str(tmp_path / "back"))) == 0
    back = load_model(tmp_path / "back")
    assert back.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_import_untied_bart_needs_one_shared_token_embedding(tmp_path):
    bart = _hf_bart(tie_word_embeddings=False)  # lm_head, shared and both sides' embed_tokens all separate
    bart.save_pretrained(str(tmp_path / "separate"))
    with pytest.raises(UserError, match=r"embed_tokens differs from model\.shared"):
        import_hf(tmp_path / "separate")
    with torch.no_grad():  # one token embedding, a separate lm_head: what roots' untied Seq2SeqModel is
        for side in (bart.model.encoder, bart.model.decoder):
            side.embed_tokens.weight.copy_(bart.model.shared.weight)
    bart.save_pretrained(str(tmp_path / "shared"))
    model = import_hf(tmp_path / "shared")
    assert not model.config.tie_embeddings
    src, tgt = torch.randint(0, 120, (1, 10)), torch.randint(0, 120, (1, 7))
    with torch.no_grad():
        torch.testing.assert_close(model(src, tgt), bart(input_ids=src, decoder_input_ids=tgt).logits,
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("preset,weight", [("debug-bert", "bert.encoder.layer.1.output.LayerNorm.bias"),
                                           ("debug-bart", "model.decoder.layers.1.encoder_attn.v_proj.weight")])
def test_verification_catches_a_wrong_weight(tmp_path, tok_dir, preset, weight):
    from safetensors.torch import load_file, save_file

    from roots.export.hf import verify_export

    model = _model(tok_dir, preset)
    export_hf(model, tok_dir, tmp_path / "hf")
    assert verify_export(model, tmp_path / "hf") < 1e-4
    tensors = load_file(str(tmp_path / "hf" / "model.safetensors"))
    tensors[weight] = tensors[weight] + 0.1
    save_file(tensors, str(tmp_path / "hf" / "model.safetensors"), metadata={"format": "pt"})
    assert verify_export(model, tmp_path / "hf") > 1e-3
