"""Encoder (BERT) and encoder-decoder (BART) against Hugging Face: copy tiny random weights through the
exporter's mapping (roots.export.architectures), compare logits."""

from __future__ import annotations

import pytest
import torch

from roots.model.bert import BertModel
from roots.model.config import ModelConfig
from roots.model.seq2seq import Seq2SeqModel

transformers = pytest.importorskip("transformers")

from roots.export.hf import to_transformers  # noqa: E402


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Random norms and biases too, so that a wrongly mapped weight cannot hide behind ones/zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def test_bert_matches_hf_bert_for_pretraining():
    torch.manual_seed(0)
    model = BertModel(ModelConfig.from_preset("debug-bert", n_layer=2, n_head=4, n_embd=32)).eval()
    _randomize(model)
    model.lm_head.weight = model.transformer.wte.weight  # re-tie after randomizing
    hf = to_transformers(model)  # the exporter's weight mapping
    idx = torch.randint(0, 256, (2, 11))
    token_type = torch.cat([torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 6, dtype=torch.long)], dim=1)
    key_mask = torch.ones(2, 11, dtype=torch.long)
    key_mask[1, 8:] = 0  # padding in the second row
    with torch.no_grad():
        mlm, nsp = model(idx, token_type, key_mask)
        ref = hf(input_ids=idx, token_type_ids=token_type, attention_mask=key_mask)
    torch.testing.assert_close(mlm, ref.prediction_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(nsp, ref.seq_relationship_logits, atol=1e-4, rtol=1e-4)


def test_seq2seq_matches_hf_bart():
    model = Seq2SeqModel(ModelConfig.from_preset("debug-bart", n_layer=2, n_decoder_layer=3, n_head=4)).eval()
    _randomize(model)
    model.lm_head.weight = model.transformer.wte.weight
    hf = to_transformers(model)  # the exporter's weight mapping
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
        steps = [model.decode(tgt[:, i : i + 1], memories, None, cache, torch.tensor([i])) for i in range(6)]
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
