"""Encoder (BERT) and encoder-decoder (BART) against Hugging Face: copy tiny random weights, compare logits."""

from __future__ import annotations

import pytest
import torch

from roots.model.bert import BertModel
from roots.model.config import ModelConfig
from roots.model.seq2seq import Seq2SeqModel

transformers = pytest.importorskip("transformers")


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Random norms and biases too, so that a wrongly mapped weight cannot hide behind ones/zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _split_qkv(w: torch.Tensor) -> list[torch.Tensor]:
    return list(w.chunk(3, dim=0))


def _to_hf_bert(model: BertModel):
    c = model.config
    hf = transformers.BertForPreTraining(transformers.BertConfig(
        vocab_size=c.vocab_size, hidden_size=c.n_embd, num_hidden_layers=c.n_layer, num_attention_heads=c.n_head,
        intermediate_size=c.intermediate_size, max_position_embeddings=c.block_size,
        type_vocab_size=c.type_vocab_size, layer_norm_eps=c.norm_eps, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)).eval()
    sd = model.state_dict()
    out = {
        "bert.embeddings.word_embeddings.weight": sd["transformer.wte.weight"],
        "bert.embeddings.position_embeddings.weight": sd["transformer.emb.wpe.weight"],
        "bert.embeddings.token_type_embeddings.weight": sd["transformer.emb.wtt.weight"],
        "bert.embeddings.LayerNorm.weight": sd["transformer.emb.ln_emb.weight"],
        "bert.embeddings.LayerNorm.bias": sd["transformer.emb.ln_emb.bias"],
        "bert.pooler.dense.weight": sd["pooler.weight"], "bert.pooler.dense.bias": sd["pooler.bias"],
        "cls.predictions.transform.dense.weight": sd["mlm_dense.weight"],
        "cls.predictions.transform.dense.bias": sd["mlm_dense.bias"],
        "cls.predictions.transform.LayerNorm.weight": sd["mlm_norm.weight"],
        "cls.predictions.transform.LayerNorm.bias": sd["mlm_norm.bias"],
        "cls.predictions.decoder.weight": sd["lm_head.weight"], "cls.predictions.bias": sd["lm_head.bias"],
        "cls.predictions.decoder.bias": sd["lm_head.bias"],
        "cls.seq_relationship.weight": sd["nsp_head.weight"], "cls.seq_relationship.bias": sd["nsp_head.bias"],
    }
    for i in range(c.n_layer):
        r, h = f"transformer.h.{i}.", f"bert.encoder.layer.{i}."
        for part, w, b in zip(("query", "key", "value"), _split_qkv(sd[r + "attn.c_attn.weight"]),
                              _split_qkv(sd[r + "attn.c_attn.bias"]), strict=True):
            out[h + f"attention.self.{part}.weight"], out[h + f"attention.self.{part}.bias"] = w, b
        pairs = {"attention.output.dense": "attn.c_proj", "attention.output.LayerNorm": "ln_1",
                 "intermediate.dense": "mlp.c_fc", "output.dense": "mlp.c_proj", "output.LayerNorm": "ln_2"}
        for hf_name, name in pairs.items():
            out[h + hf_name + ".weight"], out[h + hf_name + ".bias"] = sd[r + name + ".weight"], sd[r + name + ".bias"]
    missing, unexpected = hf.load_state_dict(out, strict=False)
    assert not unexpected, unexpected
    assert not [k for k in missing if "position_ids" not in k and "token_type_ids" not in k], missing
    return hf


def test_bert_matches_hf_bert_for_pretraining():
    torch.manual_seed(0)
    model = BertModel(ModelConfig.from_preset("debug-bert", n_layer=2, n_head=4, n_embd=32)).eval()
    _randomize(model)
    model.lm_head.weight = model.transformer.wte.weight  # re-tie after randomizing
    hf = _to_hf_bert(model)
    idx = torch.randint(0, 256, (2, 11))
    token_type = torch.cat([torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 6, dtype=torch.long)], dim=1)
    key_mask = torch.ones(2, 11, dtype=torch.long)
    key_mask[1, 8:] = 0  # padding in the second row
    with torch.no_grad():
        mlm, nsp = model(idx, token_type, key_mask)
        ref = hf(input_ids=idx, token_type_ids=token_type, attention_mask=key_mask)
    torch.testing.assert_close(mlm, ref.prediction_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(nsp, ref.seq_relationship_logits, atol=1e-4, rtol=1e-4)


def _to_hf_bart(model: Seq2SeqModel):
    c = model.config
    hf = transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=c.vocab_size, d_model=c.n_embd, encoder_layers=c.n_layer, decoder_layers=c.n_decoder_layer,
        encoder_attention_heads=c.n_head, decoder_attention_heads=c.n_head,
        encoder_ffn_dim=c.intermediate_size, decoder_ffn_dim=c.intermediate_size,
        max_position_embeddings=c.block_size, activation_function="gelu", dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, scale_embedding=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=None)).eval()
    sd = model.state_dict()
    out = {"model.shared.weight": sd["transformer.wte.weight"], "lm_head.weight": sd["transformer.wte.weight"],
           "model.encoder.embed_tokens.weight": sd["transformer.wte.weight"],
           "model.decoder.embed_tokens.weight": sd["transformer.wte.weight"]}

    def linear(dst: str, src: str) -> None:
        out[dst + ".weight"], out[dst + ".bias"] = sd[src + ".weight"], sd[src + ".bias"]

    for side, ours in (("encoder", "transformer"), ("decoder", "decoder")):
        # BART's learned positions start at offset 2 (a fairseq legacy): rows 0, 1 are never used
        wpe = sd[f"{ours}.emb.wpe.weight"]
        out[f"model.{side}.embed_positions.weight"] = torch.cat([torch.zeros(2, c.n_embd), wpe])
        linear(f"model.{side}.layernorm_embedding", f"{ours}.emb.ln_emb")
        for i in range(c.n_layer if side == "encoder" else c.n_decoder_layer):
            r, h = f"{ours}.h.{i}.", f"model.{side}.layers.{i}."
            ws, bs = _split_qkv(sd[r + "attn.c_attn.weight"]), _split_qkv(sd[r + "attn.c_attn.bias"])
            for j, part in enumerate(("q_proj", "k_proj", "v_proj")):
                out[h + f"self_attn.{part}.weight"], out[h + f"self_attn.{part}.bias"] = ws[j], bs[j]
            linear(h + "self_attn.out_proj", r + "attn.c_proj")
            linear(h + "self_attn_layer_norm", r + "ln_1")
            linear(h + "fc1", r + "mlp.c_fc")
            linear(h + "fc2", r + "mlp.c_proj")
            if side == "encoder":
                linear(h + "final_layer_norm", r + "ln_2")
                continue
            linear(h + "encoder_attn.q_proj", r + "cross.q_proj")
            kw, vw = sd[r + "cross.c_kv.weight"].chunk(2)
            kb, vb = sd[r + "cross.c_kv.bias"].chunk(2)
            out[h + "encoder_attn.k_proj.weight"], out[h + "encoder_attn.k_proj.bias"] = kw, kb
            out[h + "encoder_attn.v_proj.weight"], out[h + "encoder_attn.v_proj.bias"] = vw, vb
            linear(h + "encoder_attn.out_proj", r + "cross.c_proj")
            linear(h + "encoder_attn_layer_norm", r + "ln_2")
            linear(h + "final_layer_norm", r + "ln_3")
    missing, unexpected = hf.load_state_dict(out, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"final_logits_bias"}, missing
    return hf


def test_seq2seq_matches_hf_bart():
    model = Seq2SeqModel(ModelConfig.from_preset("debug-bart", n_layer=2, n_decoder_layer=3, n_head=4)).eval()
    _randomize(model)
    model.lm_head.weight = model.transformer.wte.weight
    hf = _to_hf_bart(model)
    src = torch.randint(3, 256, (2, 9))
    key_mask = torch.ones(2, 9, dtype=torch.long)
    key_mask[0, 6:] = 0
    tgt = torch.randint(3, 256, (2, 7))
    with torch.no_grad():
        logits = model(src, tgt, key_mask)
        ref = hf(input_ids=src, attention_mask=key_mask, decoder_input_ids=tgt).logits
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=1e-4)


def test_seq2seq_cached_decoding_and_beam_search():
    torch.manual_seed(0)
    model = Seq2SeqModel(ModelConfig.from_preset("debug-bart")).eval()
    src = torch.randint(3, 256, (1, 8))
    tgt = torch.randint(3, 256, (1, 6))
    with torch.no_grad():
        full = model(src, tgt)
        memories = model.memories(model.encode(src))
        cache = model.new_kv_cache(1, 6)
        steps = [model.decode(tgt[:, i : i + 1], memories, None, cache) for i in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    greedy = model.generate(src, start_id=0, eos_id=2, max_new_tokens=10)[0]
    beam1 = model.generate(src, start_id=0, eos_id=2, max_new_tokens=10, num_beams=1)[0]
    assert greedy == beam1
    # beam search finds a sequence at least as likely as greedy's (same length, no EOS in 10 random steps)
    beams = model.generate(src, start_id=0, eos_id=2, max_new_tokens=10, num_beams=4, length_penalty=0.0)[0]

    def logprob(seq: list[int]) -> float:
        dec = torch.tensor([[0, *seq]])
        with torch.no_grad():
            lp = model(src, dec[:, :-1]).log_softmax(-1)
        return float(lp[0].gather(-1, dec[0, 1:, None]).sum())

    if len(beams) == len(greedy) == 10:
        assert logprob(beams) >= logprob(greedy) - 1e-4
