"""Backends: a roots checkpoint driven with per-row positions and padding equals the model's own forward."""

import pytest
import torch
from serve_helpers import submit

from conftest import build_roots_run
from roots.common.errors import UserError
from roots.model.sampling import sample
from roots.serve.backend import RootsCausalLM, load_served_model
from roots.serve.engine import Engine


@pytest.mark.parametrize("preset,overrides", [
    ("gpt2-nano", {}),
    ("gpt2-nano", {"positions": "sinusoidal"}),
    ("tinyllama-1.1b", dict(n_layer=2, n_head=4, n_kv_head=2, n_embd=32, intermediate_size=64)),
])
def test_padded_batch_with_cache_equals_full_forward(tmp_path, tiny_model_dir, preset, overrides):
    run = build_roots_run(tmp_path / "run", tiny_model_dir / "tokenizer.json", preset, **overrides)
    loaded = load_served_model(run)
    backend, model = loaded.backend, loaded.backend.model
    assert isinstance(backend, RootsCausalLM)
    rows = [[5, 9, 33, 2, 7, 11], [40, 41], [3, 4, 5, 6]]
    width = max(map(len, rows))
    ids = torch.zeros(3, width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, width - len(r):], mask[i, width - len(r):] = torch.tensor(r), 1
    logits, kv = backend.forward(ids, mask, (mask.cumsum(-1) - 1).clamp(min=0), None, all_logits=True)
    nxt = torch.tensor([[12], [13], [14]])
    step_mask = torch.cat([mask, torch.ones(3, 1, dtype=torch.long)], -1)
    step, _ = backend.forward(nxt, step_mask, mask.sum(-1, keepdim=True), kv, all_logits=False)
    with torch.no_grad():
        for i, r in enumerate(rows):
            full = model(torch.tensor([[*r, 12 + i]]))[0]  # (T + 1, V)
            torch.testing.assert_close(logits[i, width - len(r):], full[:-1], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(step[i, -1], full[-1], atol=1e-4, rtol=1e-4)


def test_engine_greedy_equals_roots_generate_sampler(roots_run_dir):
    loaded = load_served_model(roots_run_dir)
    engine = Engine(loaded, max_batch_size=3).start()
    try:
        prompts = [loaded.codec.encode(t) for t in ("The quick brown fox", "A", "Continuous batching lets")]
        collectors = [submit(engine, p, max_tokens=15, temperature=0, ignore_eos=True) for p in prompts]
        for p, c in zip(prompts, collectors):
            ref = torch.stack(list(sample(loaded.backend.model, torch.tensor([p]), 15, temperature=0)), 1)
            assert c.tokens == ref[0].tolist()
    finally:
        engine.shutdown(drain_seconds=0)


def test_load_model_errors(tmp_path, tiny_model_dir):
    with pytest.raises(UserError, match="not found"):
        load_served_model(tmp_path / "missing")
    with pytest.raises(UserError, match="not a model"):
        load_served_model(tmp_path)
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    with pytest.raises(UserError, match=r"tokenizer\.json"):
        load_served_model(tmp_path / "hf")


def test_roots_embeddings_ignore_padding(roots_run_dir):
    backend = load_served_model(roots_run_dir).backend
    short, long = [5, 6, 7], [8, 9, 10, 11, 12]
    ids = torch.tensor([[0, 0, *short], long])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    batched = backend.embed(ids, mask)
    alone = backend.embed(torch.tensor([short]), torch.ones(1, 3, dtype=torch.long))
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=1e-5)
    assert batched.shape == (2, backend.model.config.n_embd)
