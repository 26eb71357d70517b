"""One model, three ways to decode it: greedy `roots generate`, the server's engine (continuous batching over
ragged rows) and Hugging Face `generate()` on the exported model give identical tokens."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.cli import main  # noqa: E402
from roots.export.hf import ExportConfig, run_export  # noqa: E402
from roots.model.build import build_model  # noqa: E402
from roots.model.config import ModelConfig  # noqa: E402
from roots.model.io import open_run, save_model  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402
from roots.workflows.generate import GenerateConfig, generate_ids  # noqa: E402

TEXTS = ["To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. "] * 20
PROMPTS = ["To be", "whether 'tis nobler in the", "the question: whether"]
N = 12


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    return Tokenizer.train(TEXTS, kind="bpe", vocab_size=300, min_frequency=1).save(
        tmp_path_factory.mktemp("tok") / "tok")


def _exported(tmp_path, tok_dir, preset: str, **overrides):
    """A random model (weights large enough that greedy choices are clear) saved with its tokenizer, and its
    Hugging Face export."""
    tok = Tokenizer.load(tok_dir)
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset(preset, vocab_size=tok.vocab_size, **overrides))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    save_model(model, tmp_path / "ckpt")
    tok.save(tmp_path / "ckpt" / "tokenizer")
    assert run_export(ExportConfig(model=str(tmp_path / "ckpt"), output=str(tmp_path / "hf"))) == 0
    return tmp_path / "ckpt", tmp_path / "hf", tok


def _served(checkpoint, prompts: list[list[int]]) -> list[list[int]]:
    """Greedy tokens from the engine, all prompts submitted together (one batch of rows of different lengths)."""
    from serve_helpers import Collector

    from roots.serve.backend import load_served_model
    from roots.serve.engine import Engine, Request
    from roots.serve.sampling import SamplingParams

    engine = Engine(load_served_model(checkpoint), max_batch_size=8).start()
    try:
        collectors = [Collector() for _ in prompts]
        for ids, collector in zip(prompts, collectors):
            engine.submit(Request(ids, SamplingParams(max_tokens=N, temperature=0.0), collector))
        return [[t for out in c.wait() for t in out.token_ids] for c in collectors]
    finally:
        engine.shutdown(drain_seconds=1)


@pytest.mark.parametrize("preset,overrides", [("debug", {}), ("debug-llama", {"tie_embeddings": True})])
def test_decoder_generate_server_and_hf_agree(tmp_path, tok_dir, preset, overrides, capsys):
    checkpoint, hf_dir, tok = _exported(tmp_path, tok_dir, preset, **overrides)
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir)).eval()
    run = open_run(checkpoint, device="cpu")
    prompts = [[tok.eos_id, *tok.encode(p)] for p in PROMPTS]
    ours = [generate_ids(run, ids, GenerateConfig(temperature=0.0, max_new_tokens=N))[0] for ids in prompts]
    served = _served(checkpoint, prompts)
    theirs = []
    with torch.no_grad():
        for ids in prompts:
            out = hf.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                              max_new_tokens=N, do_sample=False, pad_token_id=tok.eos_id)
            theirs.append(out[0, len(ids):].tolist())
    assert sum(map(len, ours)) >= N  # a real comparison, not empty outputs
    assert ours == theirs
    assert served == theirs
    # the command prints the prompt and the same continuation
    capsys.readouterr()
    assert main(["generate", "--model", str(checkpoint), "--prompt", PROMPTS[0], "--temperature", "0",
                 "--max-new-tokens", str(N), "--device", "cpu"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    expected = run.tokenizer.decode(generate_ids(run, tok.encode(PROMPTS[0]), GenerateConfig(
        temperature=0.0, max_new_tokens=N))[0], skip_special_tokens=False)
    assert first == (PROMPTS[0] + expected).splitlines()[0]


def test_encoder_decoder_generate_server_and_hf_agree(tmp_path, tok_dir):
    checkpoint, hf_dir, tok = _exported(tmp_path, tok_dir, "debug-bart")
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(hf_dir)).eval()
    run = open_run(checkpoint, device="cpu")
    total = 0
    served = _served(checkpoint, [tok.encode(p) for p in PROMPTS])
    for prompt, from_server in zip(PROMPTS, served):
        ids = tok.encode(prompt)
        ours = generate_ids(run, ids, GenerateConfig(temperature=0.0, max_new_tokens=N))[0]
        with torch.no_grad():
            out = hf.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                              max_new_tokens=N)[0].tolist()
        theirs = out[1:]  # after the decoder start token, up to (excluding) EOS, as roots returns it
        theirs = theirs[: theirs.index(tok.eos_id)] if tok.eos_id in theirs else theirs
        assert ours == theirs
        assert from_server == theirs + [tok.eos_id] * (len(from_server) > len(theirs))  # the stop token ends it
        total += len(ours)
    assert total >= N
    assert main(["generate", "--model", str(checkpoint), "--prompt", PROMPTS[0], "--temperature", "0",
                 "--max-new-tokens", str(N), "--device", "cpu"]) == 0


def test_serve_completions_of_an_encoder_decoder(tmp_path, tok_dir):
    """`roots serve` on an encoder-decoder checkpoint: /v1/completions returns the greedy decode of the source."""
    import httpx
    from serve_helpers import live_server

    from roots.serve.backend import load_served_model

    checkpoint = _exported(tmp_path, tok_dir, "debug-bart")[0]
    loaded = load_served_model(checkpoint)
    run = open_run(checkpoint, device="cpu")
    with live_server(loaded) as (url, _app):
        r = httpx.post(f"{url}/v1/completions", json={"model": loaded.name, "prompt": PROMPTS[1],
                                                       "max_tokens": N, "temperature": 0}, timeout=60)
    assert r.status_code == 200, r.text
    source = loaded.codec.encode(PROMPTS[1], special=True)
    expected = generate_ids(run, source, GenerateConfig(temperature=0.0, max_new_tokens=N))[0]
    assert expected and r.json()["choices"][0]["text"] == loaded.codec.decode(expected)
