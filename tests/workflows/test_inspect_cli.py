from __future__ import annotations

import numpy as np
import pytest

from roots.cli import main
from roots.model.config import ModelConfig
from roots.model.gpt import TransformerModel
from roots.model.io import save_model
from roots.tokenizer.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    texts = ["the cat sat on the mat", "the dog sat on the log", "a bird flew over the house"] * 20
    tok = Tokenizer.train(texts, kind="bpe", vocab_size=300)
    tok.save(root / "ckpt" / "tokenizer")
    model = TransformerModel(ModelConfig.from_preset("debug", vocab_size=tok.vocab_size))
    save_model(model, root / "ckpt")
    return root / "ckpt"


def test_inspect_attention_writes_heatmaps(model_dir, tmp_path, capsys):
    out = tmp_path / "attn.png"
    assert main(["inspect", "attention", "--model", str(model_dir), "--prompt", "the cat sat",
                 "--output", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 5000
    assert "2 layers x 2 heads" in capsys.readouterr().out


def test_inspect_embeddings_tokens_and_sentences(model_dir, tmp_path, capsys):
    assert main(["inspect", "embeddings", "--model", str(model_dir), "--query", "the", "--k", "3",
                 "--device", "cpu"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]) == 3
    cands = tmp_path / "c.txt"
    cands.write_text("the cat sat on the mat\na bird flew\n")
    assert main(["inspect", "embeddings", "--model", str(model_dir), "--query", "the cat sat on the mat",
                 "--candidates", str(cands), "--device", "cpu"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert np.isclose(float(lines[0].split()[0]), 1.0, atol=1e-4)  # a sentence is nearest to itself
    assert main(["inspect", "embeddings", "--model", str(model_dir), "--query", "two words here",
                 "--device", "cpu"]) == 2  # several tokens and no candidates: a clear error
