"""The issue's check: export a trained tiny model, reload it in transformers, identical greedy text."""

from __future__ import annotations

import gzip

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.cli import main  # noqa: E402
from roots.model.io import find_checkpoint, load_model  # noqa: E402
from roots.model.sampling import sample  # noqa: E402

MODEL_FLAGS = ["--model.vocab-size", "0", "--model.block-size", "64", "--model.n-layer", "2",
               "--model.n-head", "4", "--model.n-kv-head", "2", "--model.n-embd", "64",
               "--model.intermediate-size", "128", "--model.positions", "rope", "--model.norm", "rmsnorm",
               "--model.mlp", "swiglu", "--model.bias", "false", "--model.tie-embeddings", "false"]


@pytest.mark.slow
def test_trained_model_exports_with_identical_greedy_text(shared_data, tmp_path):
    with gzip.open(shared_data / "lm" / "tinyshakespeare_input.txt.gz", "rt", encoding="utf-8") as f:
        (tmp_path / "shakespeare.txt").write_text(f.read()[:200_000])
    text, tok, shards, run = (str(tmp_path / name) for name in ("shakespeare.txt", "tok", "shards", "run"))
    assert main(["tokenizer", "train", "--input", text, "--output", tok, "--kind", "bpe",
                 "--vocab-size", "512"]) == 0
    assert main(["tokenize", "--tokenizer", tok, "--input", text, "--output", shards, "--val-split", "tail",
                 "--val-fraction", "0.1"]) == 0
    assert main(["train", "--data", shards, "--out-dir", run, *MODEL_FLAGS,
                 "--max-steps", "150", "--eval-every", "0", "--eval-batches", "4", "--batch-size", "8",
                 "--schedule.warmup-steps", "10", "--optim.lr", "3e-3", "--device", "cpu",
                 "--tensorboard", "false"]) == 0
    assert main(["export", "hf", "--model", str(tmp_path / "run"), "--output", str(tmp_path / "hf")]) == 0

    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    model = load_model(find_checkpoint(tmp_path / "run")).eval()
    for prompt in ["ROMEO:\nWhat", "First Citizen:\n"]:
        ids = tok(tok.eos_token + prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            theirs = hf.generate(ids, max_new_tokens=32, do_sample=False)[0, ids.shape[1]:]
        ours = torch.cat(list(sample(model, ids, 32, temperature=0.0)))
        assert tok.decode(theirs) == tok.decode(ours)
        assert len(theirs) == 32 and torch.equal(theirs, ours)
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "train:" in card and "shakespeare.txt" in card and "val" in card
