"""Remote outputs and inputs of the model-side commands (docs/remote.md): `roots export hf --output s3://...`
and evaluation text read over HTTP."""

from __future__ import annotations

import fsspec
import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.common.errors import UserError  # noqa: E402
from roots.eval.lm import read_texts  # noqa: E402
from roots.export.hf import ExportConfig, run_export  # noqa: E402
from roots.model.config import ModelConfig  # noqa: E402
from roots.model.gpt import TransformerModel  # noqa: E402
from roots.model.io import save_model  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog. 天下大势，分久必合。"] * 10


@pytest.fixture
def checkpoint(tmp_path):
    tok = Tokenizer.train(TEXTS, kind="bpe", vocab_size=300, min_frequency=1)
    tok.save(tmp_path / "ckpt" / "tokenizer")
    torch.manual_seed(0)
    model = TransformerModel(ModelConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16))
    save_model(model, tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_export_to_s3_loads_with_transformers(checkpoint, s3_bucket, tmp_path):
    url = f"{s3_bucket}/models/tiny"
    assert run_export(ExportConfig(model=str(checkpoint), output=url)) == 0
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    names = {p.rsplit("/", 1)[-1] for p in fs.find(url.removeprefix("s3://"))}
    assert {"config.json", "model.safetensors", "tokenizer.json", "run.json"} <= names
    local = tmp_path / "downloaded"
    fs.get(url.removeprefix("s3://") + "/", str(local), recursive=True)
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(local))
    assert hf.config.n_layer == 1
    with pytest.raises(UserError, match="already holds an export"):
        run_export(ExportConfig(model=str(checkpoint), output=url))
    fs.pipe(url.removeprefix("s3://") + "/stale.bin", b"old")  # a file the new export lacks goes
    assert run_export(ExportConfig(model=str(checkpoint), output=url, overwrite=True)) == 0
    fs.invalidate_cache()
    assert not fs.exists(url.removeprefix("s3://") + "/stale.bin")


def test_eval_text_is_read_over_http(http_root):
    root, server = http_root
    (root / "valid.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    assert read_texts(f"{server.url}/valid.txt") == read_texts(root / "valid.txt")

