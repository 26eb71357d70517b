"""A tiny real model to serve: a random GPT-2 in Hugging Face format with a byte-level BPE tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

TEXT = """The quick brown fox jumps over the lazy dog. A language model predicts the next token.
Continuous batching lets new requests join the running batch between decode steps.
Héllo wörld, naïve café; 東京 and emoji 🙂 test multi-byte characters in streamed text.
""" * 20


def build_tiny_model(out: Path, vocab_size: int = 320, n_positions: int = 128, seed: int = 0) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(TEXT.splitlines(), trainer)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    eos = tokenizer.token_to_id("<|endoftext|>")
    (out / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>", "bos_token": None}))
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=tokenizer.get_vocab_size(), n_positions=n_positions, n_embd=64, n_layer=2,
                        n_head=4, bos_token_id=eos, eos_token_id=eos)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # sharper than init so that greedy decoding has no near-ties
        for p in model.parameters():
            p.mul_(4.0) if p.dim() > 1 else None
    model.save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-gpt2")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from roots.serve.backend import load_served_model

    return load_served_model(tiny_model_dir)


def build_roots_run(out: Path, tokenizer_json: Path, preset: str = "gpt2-nano", seed: int = 0, **overrides) -> Path:
    """A roots run folder as `roots train` leaves it: checkpoints/last/, tokenizer.json, data_meta.json."""
    import shutil

    from tokenizers import Tokenizer

    from roots.model.gpt import TransformerModel

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    torch.manual_seed(seed)
    model = TransformerModel.from_preset(preset, vocab_size=tokenizer.get_vocab_size(), block_size=128,
                                         init_std=0.1, **overrides)
    from roots.model.io import save_model

    save_model(model, out / "checkpoints" / "last")
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    (out / "data_meta.json").write_text(json.dumps({"eos_id": tokenizer.token_to_id("<|endoftext|>")}))
    return out


@pytest.fixture(scope="session")
def roots_run_dir(tmp_path_factory, tiny_model_dir) -> Path:
    return build_roots_run(tmp_path_factory.mktemp("roots") / "nano-run", tiny_model_dir / "tokenizer.json")
