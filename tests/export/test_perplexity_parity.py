"""Perplexity of an exported model computed by transformers (labels=-100 outside each window's new
tokens, as in HF's perplexity guide) equals roots' sliding-window perplexity of the roots checkpoint."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.eval.perplexity import perplexity, windows  # noqa: E402
from roots.export.hf import ExportConfig, run_export  # noqa: E402
from roots.model.config import ModelConfig  # noqa: E402
from roots.model.gpt import TransformerModel  # noqa: E402
from roots.model.io import open_run, save_model  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXT = ("Whan that Aprille with his shoures soote the droghte of March hath perced to the roote, "
        "and bathed every veyne in swich licour of which vertu engendred is the flour. ") * 4


@pytest.mark.parametrize("preset", ["debug", "debug-llama"])
def test_transformers_perplexity_equals_roots(tmp_path, preset):
    tok = Tokenizer.train([TEXT] * 10, kind="bpe", vocab_size=300, min_frequency=1)
    torch.manual_seed(0)
    model = TransformerModel(ModelConfig.from_preset(preset, vocab_size=tok.vocab_size, block_size=32))
    save_model(model, tmp_path / "ckpt")
    tok.save(tmp_path / "ckpt" / "tokenizer")
    run_export(ExportConfig(model=str(tmp_path / "ckpt"), output=str(tmp_path / "hf")))

    loaded = open_run(tmp_path / "ckpt", device="cpu")
    # transformers takes each window whole (it shifts labels itself), so a window of context + 1 tokens
    # must fit the 32 positions
    context, stride = 31, 12
    ours = perplexity(loaded.logits, TEXT, loaded.tokenizer.encode, loaded.tokenizer.eos_id, context, stride)

    hf = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    ids = hf_tok(hf_tok.eos_token + TEXT, return_tensors="pt").input_ids  # (1, n): EOS, then the text
    nll, count = 0.0, 0
    for begin, end, n_new in windows(ids.shape[1], context, stride):
        input_ids = ids[:, begin:end]
        labels = input_ids.clone()
        labels[:, :-n_new] = -100  # only the tokens no earlier window scored
        with torch.no_grad():
            nll += hf(input_ids, labels=labels).loss.item() * n_new
        count += n_new
    assert count == ours.tokens
    assert nll / count == pytest.approx(ours.nats_per_token, rel=1e-5)
