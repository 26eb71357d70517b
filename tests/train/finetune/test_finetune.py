"""`roots finetune`: LoRA merge equality, frozen weights bitwise unchanged, adapters saved alone, task data
encoding (chat loss on assistant tokens only), bad input, and the CLI on a classification JSONL."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from safetensors.torch import load_file

from roots.model.build import build_model
from roots.model.config import ModelConfig
from roots.model.io import save_model
from roots.train.finetune.adapters import apply_lora, apply_prefix, apply_prompt, merge_lora
from roots.train.finetune.finetune import FinetuneConfig, FinetuneRun, load_finetuned
from roots.train.metrics import read_metrics
from roots.workflows.finetune import evaluate, finetune


def _texts() -> list[str]:
    """Real English sentences that ship with Python: first lines of stdlib docstrings."""
    import collections
    import json as json_mod
    import pathlib
    import typing

    out = []
    for module in (collections, json_mod, pathlib, typing, inspect, torch.nn):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc.split("\n")[0]) > 20:
                out.append(doc.split("\n")[0])
    return sorted(set(out))


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    from roots.tokenizer.tokenizer import Tokenizer

    path = tmp_path_factory.mktemp("tok")
    Tokenizer.train(_texts() * 3, "wordpiece", vocab_size=400).save(path)
    return path


def _base(tmp_path, tokenizer_dir, preset: str):
    """A pretrained-model folder as `roots train` leaves it: checkpoints/last + the run's tokenizer.json."""
    import shutil

    run = tmp_path / f"base-{preset}"
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset(preset, vocab_size=400, block_size=64))
    save_model(model, run / "checkpoints" / "last")
    shutil.copyfile(tokenizer_dir / "tokenizer.json", run / "tokenizer.json")
    return run


def _classification_jsonl(path, n: int = 120, bad: bool = False):
    # learnable from the text alone: a long or a short sentence?
    rows = [{"text": t, "label": "long" if len(t.split()) > 8 else "short"} for t in _texts()[:n]]
    lines = [json.dumps(r) for r in rows]
    if bad:
        lines += ["{not json", json.dumps({"label": "short"}), json.dumps({"text": "  ", "label": "short"}),
                  json.dumps(["a list"])]
    path.write_text("\n".join(lines) + "\n")
    return path


def _randomize_lora(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_b" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.mark.parametrize("preset", ["debug", "debug-llama", "debug-bert", "debug-bart"])
def test_merged_lora_equals_base_plus_adapter(preset):
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset(preset)).eval()
    assert apply_lora(model, rank=4, alpha=8, targets=["c_attn", "c_proj", "c_fc", "q_proj", "c_kv"]) > 0
    _randomize_lora(model)
    idx = torch.randint(0, 256, (2, 10))
    args = (idx, idx) if preset == "debug-bart" else (idx,)
    with torch.no_grad():
        adapted = model(*args)
        merged = merge_lora(model)(*args)
    assert not any("lora" in n for n, _ in model.named_parameters())
    adapted, merged = (adapted[0], merged[0]) if isinstance(adapted, tuple) else (adapted, merged)
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("preset", ["debug", "debug-bert"])
def test_prefix_and_prompt_change_outputs_and_keep_shapes(preset):
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset(preset)).eval()
    idx = torch.randint(0, 256, (2, 10))
    with torch.no_grad():
        plain = model(idx)
        apply_prefix(model, 4)
        prefixed = model(idx)
    plain, prefixed = (plain[0], prefixed[0]) if isinstance(plain, tuple) else (plain, prefixed)
    assert prefixed.shape == plain.shape and not torch.allclose(prefixed, plain)
    model = build_model(ModelConfig.from_preset(preset)).eval()
    apply_prompt(model, 5)
    with torch.no_grad():
        prompted = model(idx)
    prompted = prompted[0] if isinstance(prompted, tuple) else prompted
    assert prompted.shape == plain.shape


def test_soft_prompt_decoder_generates_with_cache():
    from roots.model.sampling import sample

    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset("debug")).eval()
    apply_prompt(model, 5)
    idx = torch.randint(0, 256, (1, 6))
    greedy = torch.stack(list(sample(model, idx, 8, temperature=0.0)), dim=1)  # (1, 8), never stops early
    with torch.no_grad():
        full = model(torch.cat([idx, greedy[:, :-1]], dim=1))[:, 5:].argmax(-1)
    assert torch.equal(full, greedy)


def test_prefix_decoder_generation_with_cache_matches_full_forward():
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset("debug")).eval()
    apply_prefix(model, 3)
    idx = torch.randint(0, 256, (1, 8))
    with torch.no_grad():
        full = model(idx)
        cache = model.new_kv_cache(1, 8)
        steps = torch.cat([model(idx[:, i : i + 1], torch.tensor([i]), cache) for i in range(8)], dim=1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("preset", "method"), [("debug-bert", "lora"), ("debug-bert", "prefix"),
                                                ("debug-bert", "prompt"), ("debug", "lora"), ("debug", "full")])
def test_finetune_trains_only_adapters(tmp_path, tokenizer_dir, preset, method):
    base = _base(tmp_path, tokenizer_dir, preset)
    data = _classification_jsonl(tmp_path / "train.jsonl")
    config = FinetuneConfig(model=str(base), train=str(data), out_dir=str(tmp_path / "ft"), method=method,
                            max_steps=6, batch_size=8, threads=1, virtual_tokens=4)
    run = FinetuneRun(config)
    before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    run.fit()
    metrics = evaluate(run)
    run.save(metrics)
    changed = {n for n, p in run.model.named_parameters() if not torch.equal(p, before[n])}
    frozen = {n for n, p in run.model.named_parameters() if not p.requires_grad}
    assert not changed & frozen  # bitwise unchanged
    assert "head.weight" in changed
    saved = set(load_file(str(tmp_path / "ft" / "adapter.safetensors")))
    if method == "full":
        assert not frozen
    else:
        assert frozen and saved == {n for n, p in run.model.named_parameters() if p.requires_grad}
        assert all(n.startswith("head.") or ("lora_" in n or ".prefix." in n or "soft_prompt" in n) for n in saved)
    assert 0 <= metrics["accuracy"] <= 1 and "f1" in metrics["macro"]
    # the saved folder reloads into the same predictions
    loaded, meta = load_finetuned(tmp_path / "ft")
    from roots.train.finetune.finetune import collate

    batch = collate(run.valid_set, "classification", meta["arch"], run.encoder.pad)
    run.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.class_logits(batch), run.model.class_logits(batch))


def test_chat_loss_covers_assistant_tokens_only(tmp_path, tokenizer_dir):
    from collections import Counter

    from roots.tokenizer.tokenizer import Tokenizer
    from roots.train.finetune.data import Encoder, Fields

    tok = Tokenizer.load(tokenizer_dir)
    enc = Encoder(tok, "chat", "decoder", 200, Fields())
    messages = [{"role": "user", "content": "return the list"},
                {"role": "assistant", "content": "the path object"},
                {"role": "user", "content": "and then"}, {"role": "assistant", "content": "a new dict"}]
    skipped = Counter()
    (ex,) = enc.encode([{"messages": messages}], skipped, grow_labels=False)
    learned = [t for t in ex.target if t != -100]
    expected = [*tok.encode("the path object"), tok.eos_id, *tok.encode("a new dict"), tok.eos_id]
    assert learned == expected
    bad = [{"messages": "hi"}, {"messages": [{"role": "user", "content": "only a user turn"}]}, {"other": 1}]
    assert enc.encode(bad, skipped, grow_labels=False) == []
    assert skipped == Counter(bad_messages=2, no_assistant_turn=1)


def test_bad_classification_lines_are_counted_skips(tmp_path, tokenizer_dir):
    base = _base(tmp_path, tokenizer_dir, "debug-bert")
    data = _classification_jsonl(tmp_path / "train.jsonl", n=40, bad=True)
    run = FinetuneRun(FinetuneConfig(model=str(base), train=str(data), out_dir=str(tmp_path / "ft"), max_steps=1,
                                     threads=1))
    assert run.skipped["bad_json"] == 1 and run.skipped["not_an_object"] == 1
    assert run.skipped["missing_field_text"] == 1 and run.skipped["empty_text"] == 1
    assert len(run.train_set) + len(run.valid_set) == 40


def test_finetune_seq2seq_encoder_decoder_reports_bleu(tmp_path, tokenizer_dir):
    base = _base(tmp_path, tokenizer_dir, "debug-bart")
    texts = _texts()[:60]
    (tmp_path / "mt.jsonl").write_text("".join(json.dumps({"source": t, "target": t.lower()}) + "\n" for t in texts))
    config = FinetuneConfig(model=str(base), train=str(tmp_path / "mt.jsonl"), out_dir=str(tmp_path / "ft"),
                            task="seq2seq", method="full", max_steps=4, batch_size=8, threads=1, eval_limit=3,
                            num_beams=2, max_new_tokens=8, merge=True)
    assert finetune(config) == 0
    metrics = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert metrics["bleu"]["signature"].startswith("nrefs:1")
    assert len((tmp_path / "ft" / "valid.hyp.txt").read_text().splitlines()) == 3


def test_cli_lora_merge_and_prefix(tmp_path, tokenizer_dir, capsys):
    from roots.cli import main
    from roots.model.io import load_model

    base = _base(tmp_path, tokenizer_dir, "debug-bert")
    data = _classification_jsonl(tmp_path / "train.jsonl")
    for method in ("lora", "prefix"):
        out = tmp_path / method
        assert main(["finetune", "--model", str(base), "--train", str(data), "--out-dir", str(out), "--method",
                     method, "--max-steps", "3", "--threads", "1", "--merge"]) == 0
        assert f"roots finetune: {method}" in capsys.readouterr().out
        assert json.loads((out / "adapter.json").read_text())["method"] == method
    # the merged LoRA model is a plain checkpoint that equals base + adapter
    tuned, _ = load_finetuned(tmp_path / "lora")
    merged = load_model(tmp_path / "lora" / "merged").eval()
    idx = torch.randint(5, 400, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(merged.features(idx), tuned.base.features(idx), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_resume_is_bitwise_under_the_trainers_rules(tmp_path, tokenizer_dir, method):
    """A run killed after step 4's checkpoint resumes (--resume auto) to the same parameters, optimizer state
    and metrics.jsonl as a run that was never stopped; a damaged newest checkpoint falls back to the previous
    one; --resume none refuses a folder with checkpoints."""
    import shutil

    from roots.common.errors import UserError

    base = _base(tmp_path, tokenizer_dir, "debug-bert")
    data = _classification_jsonl(tmp_path / "train.jsonl")

    def config(out, **kw):
        return FinetuneConfig(model=str(base), train=str(data), out_dir=str(tmp_path / out), method=method,
                              max_steps=6, batch_size=8, grad_accum=2, eval_every=2, log_every=1, threads=1,
                              tensorboard=False, **kw)

    straight = FinetuneRun(config("a"), metrics={"n_valid": lambda run: len(run.valid_set)})
    straight.fit()
    FinetuneRun(config("b")).fit(stop_at=4)  # checkpoints at steps 2 and 4, then "killed"
    shutil.copytree(tmp_path / "b", tmp_path / "c", symlinks=True)
    with pytest.raises(UserError, match="already holds checkpoints"):
        FinetuneRun(config("b", resume="none"))
    resumed = FinetuneRun(config("b"))
    assert resumed.step == 4
    resumed.fit()
    with open(tmp_path / "c" / "checkpoints" / "step_4" / "model.safetensors", "r+b") as f:
        f.truncate(10)
    fallback = FinetuneRun(config("c"))
    assert fallback.step == 2
    fallback.fit()
    a = dict(straight.model.named_parameters())
    losses = {r["step"]: r["train_loss"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "train_loss" in r}
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    for run in (resumed, fallback):
        b = dict(run.model.named_parameters())
        for name in a:
            assert torch.equal(a[name], b[name]), name
        got = {r["step"]: r["train_loss"] for r in read_metrics(run.out / "metrics.jsonl") if "train_loss" in r}
        assert got == losses
    saved = load_file(str(tmp_path / "a" / "checkpoints" / "step_6" / "model.safetensors"))
    trained = {n for n, p in straight.model.named_parameters() if p.requires_grad}
    assert set(saved) == trained  # the checkpoint holds the trainable parameters (all of them for full)
    logged = [r for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "val_loss" in r]
    assert [r["step"] for r in logged] == [2, 4, 6] and all(r["n_valid"] == len(straight.valid_set) for r in logged)


def test_chat_and_decoder_seq2seq_finetune(tmp_path, tokenizer_dir):
    base = _base(tmp_path, tokenizer_dir, "debug")
    texts = _texts()[:40]
    chats = [{"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": t.lower()}]}
             for t in texts]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats))
    assert finetune(FinetuneConfig(model=str(base), train=str(tmp_path / "chat.jsonl"), task="chat",
                                   out_dir=str(tmp_path / "chat"), method="lora", max_steps=3, threads=1,
                                   merge=True)) == 0
    assert (tmp_path / "chat" / "merged" / "model.safetensors").is_file()
    (tmp_path / "mt.jsonl").write_text("".join(json.dumps({"source": t, "target": t.lower()}) + "\n"
                                               for t in texts))
    assert finetune(FinetuneConfig(model=str(base), train=str(tmp_path / "mt.jsonl"), task="seq2seq",
                                   out_dir=str(tmp_path / "mt"), method="prompt", virtual_tokens=4, max_steps=3,
                                   threads=1, eval_limit=2, max_new_tokens=6)) == 0
    metrics = json.loads((tmp_path / "mt" / "metrics.json").read_text())
    assert "bleu" in metrics and "chrf" in metrics


def test_chat_needs_a_decoder(tmp_path, tokenizer_dir):
    from roots.common.errors import UserError

    base = _base(tmp_path, tokenizer_dir, "debug-bert")
    (tmp_path / "chat.jsonl").write_text(json.dumps({"messages": []}) + "\n")
    with pytest.raises(UserError, match="decoder"):
        FinetuneRun(FinetuneConfig(model=str(base), train=str(tmp_path / "chat.jsonl"), task="chat"))


def _ddp_worker(rank: int, world_size: int, port: int, config) -> None:
    import os

    import torch.distributed as dist

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        FinetuneRun(config).fit()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_finetune_under_ddp_matches_one_process(tmp_path, tokenizer_dir):
    """Two processes x 1 micro-batch give the losses of one process x 2 micro-batches (the same examples)."""
    import socket

    import torch.multiprocessing as mp

    base = _base(tmp_path, tokenizer_dir, "debug-bert")
    data = _classification_jsonl(tmp_path / "train.jsonl")

    def config(out, grad_accum):
        return FinetuneConfig(model=str(base), train=str(data), out_dir=str(tmp_path / out), method="lora",
                              max_steps=4, batch_size=4, grad_accum=grad_accum, eval_every=2, log_every=1,
                              threads=1, tensorboard=False)

    FinetuneRun(config("one", 2)).fit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, config("two", 1)), nprocs=2, join=True)

    def losses(out):
        return [r["train_loss"] for r in read_metrics(tmp_path / out / "metrics.jsonl") if "train_loss" in r]

    assert len(losses("one")) == 4
    torch.testing.assert_close(torch.tensor(losses("two")), torch.tensor(losses("one")), rtol=1e-5, atol=1e-5)
