"""`roots eval perplexity` and `roots eval task` on a roots checkpoint, through the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from roots.cli import main
from roots.eval.lm import RootsLM
from roots.eval.perplexity import perplexity
from roots.model.config import ModelConfig
from roots.model.gpt import TransformerModel
from roots.model.io import open_run, save_model
from roots.tokenizer.tokenizer import Tokenizer

TEXT = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 6


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint folder with its tokenizer in CHECKPOINT/tokenizer (as `roots import hf` writes it)."""
    root = tmp_path_factory.mktemp("ckpt")
    tok = Tokenizer.train([TEXT] * 5, kind="char")
    torch.manual_seed(0)
    model = TransformerModel(ModelConfig.from_preset("debug-llama", vocab_size=tok.vocab_size, block_size=32))
    save_model(model, root / "ckpt")
    tok.save(root / "ckpt" / "tokenizer")
    return root / "ckpt"


def test_eval_perplexity_cli_writes_report(checkpoint, tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    out = tmp_path / "report"
    assert main(["eval", "perplexity", "--model", str(checkpoint), "--input", str(tmp_path / "text.txt"),
                 "--context", "16", "--stride", "8", "--output", str(out), "--device", "cpu"]) == 0
    report = json.loads((out / "REPORT.json").read_text())
    m = report["metrics"]
    loaded = open_run(checkpoint, device="cpu")
    expected = perplexity(loaded.logits, TEXT, loaded.tokenizer.encode, loaded.tokenizer.eos_id, 16, 8)
    assert m["nats_per_token"] == pytest.approx(expected.nats_per_token)
    assert m["tokens"] == len(TEXT)  # char-level: every character predicted once
    assert m["bits_per_byte"] == pytest.approx(m["nll_sum_nats"] / len(TEXT.encode()) / math.log(2))
    assert report["units"]["bits_per_byte"] == "bits/byte"
    assert "nats/token" in (out / "REPORT.md").read_text()
    assert "perplexity:" in capsys.readouterr().out


def test_eval_perplexity_over_a_corpus_sums_documents(checkpoint, tmp_path):
    docs = [TEXT[:100], TEXT[100:250]]
    records = [json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(docs)]
    (tmp_path / "c.jsonl").write_text("".join(records))
    assert main(["eval", "perplexity", "--model", str(checkpoint), "--input", str(tmp_path / "c.jsonl"),
                 "--output", str(tmp_path / "r"), "--device", "cpu"]) == 0
    m = json.loads((tmp_path / "r" / "REPORT.json").read_text())["metrics"]
    assert m["tokens"] == 250 and m["words"] == sum(len(d.split()) for d in docs)


def test_eval_perplexity_errors(checkpoint, tmp_path, capsys):
    assert main(["eval", "perplexity", "--model", str(tmp_path), "--input", "x.txt"]) == 2
    assert "neither a checkpoint folder" in capsys.readouterr().err
    (tmp_path / "t.txt").write_text("abc")
    assert main(["eval", "perplexity", "--model", str(checkpoint), "--input", str(tmp_path / "t.txt"),
                 "--context", "999", "--device", "cpu"]) == 2
    assert "exceeds the model's context" in capsys.readouterr().err


def test_eval_task_cli_multiple_choice(checkpoint, tmp_path):
    docs = [{"question": "It was the best of", "choices": ["times", "zebra"], "answer": 0},
            {"question": "it was the age of", "choices": ["wisdom", "qqqqq"], "answer": 0}]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "task.yaml").write_text("task: tiny\ndata: docs.jsonl\noutput_type: multiple_choice\n"
                                        "doc_to_text: '{{question}}'\ndoc_to_target: '{{answer}}'\n"
                                        "doc_to_choice: '{{choices}}'\n")
    out = tmp_path / "out"
    assert main(["eval", "task", "--model", str(checkpoint), "--task", str(tmp_path / "task.yaml"),
                 "--output", str(out), "--device", "cpu"]) == 0
    metrics = json.loads((out / "REPORT.json").read_text())["metrics"]
    # recompute acc from RootsLM directly: the CLI must agree with the adapter
    lm = RootsLM.from_checkpoint(checkpoint, device="cpu")
    lls = lm.loglikelihood([(d["question"], " " + c) for d in docs for c in d["choices"]])
    acc = sum(lls[2 * i][0] > lls[2 * i + 1][0] for i in range(2)) / 2
    assert metrics["acc"] == acc


def test_generate_until_with_kv_cache_equals_recomputation(checkpoint):
    lm = RootsLM.from_checkpoint(checkpoint, device="cpu")
    plain = RootsLM(lm.logits_fn, lm.encode, lm.decode, lm.eos_id, lm.context)  # no sampler: full recompute
    requests = [("It was the", {"until": ["\n\n"], "max_gen_toks": 12}),
                ("x" * 40, {"until": [], "max_gen_toks": 10})]  # longer than the window: left-truncated
    outputs = lm.generate_until(requests)
    assert outputs == plain.generate_until(requests)
    assert len(outputs[1]) == 10  # char-level: one character per token
