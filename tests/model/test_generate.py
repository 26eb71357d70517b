from __future__ import annotations

import numpy as np
import pytest
import torch

from roots.cli import main
from roots.model.gpt import TransformerModel
from roots.model.sampling import filter_logits, sample
from roots.train.loader import write_token_shards
from roots.train.trainer import Trainer


def _filter(logits, top_k=0, top_p=1.0):
    one = lambda v, dtype=None: torch.tensor([v], dtype=dtype)  # noqa: E731
    return filter_logits(logits, one(1.0), one(top_k, torch.long), one(top_p), one(0.0))


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    kept = _filter(logits, top_k=2).isfinite()
    assert kept.tolist() == [[False, True, True, False]]


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    # 0.5 < 0.7, 0.5 + 0.3 >= 0.7: the nucleus is {0, 2}
    assert _filter(probs.log(), top_p=0.7).isfinite().tolist() == [[True, False, True, False]]
    assert _filter(probs.log(), top_p=0.1).isfinite().sum() == 1  # the top token always stays


def test_greedy_sampling_with_cache_equals_argmax_without():
    model = TransformerModel.from_preset("debug").eval()
    idx = torch.randint(0, 256, (1, 5), generator=torch.Generator().manual_seed(0))
    out = torch.stack(list(sample(model, idx, 8, temperature=0)), dim=1)
    seq = idx
    with torch.no_grad():
        for _ in range(8):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, seq[:, 5:])


@pytest.fixture
def char_run(tmp_path, tiny_config):
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import WordLevel

    text = "to be or not to be, that is the question. " * 200
    chars = sorted(set(text))
    tok = Tokenizer(WordLevel({c: i for i, c in enumerate(chars)}, unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    (tmp_path / "tok").mkdir()
    tok.save(str(tmp_path / "tok" / "tokenizer.json"))
    ids = np.array(tok.encode(text).ids)
    shards = write_token_shards(tmp_path / "shards", {"train": ids[:7000], "val": ids[7000:]},
                                vocab_size=len(chars), tokenizer_dir=str(tmp_path / "tok"))
    Trainer(tiny_config(shards, tmp_path / "run", max_steps=60, eval_every=30,
                        model=tiny_config(shards, tmp_path).model.replace(dropout=0.0))).fit()
    return tmp_path / "run"


def test_roots_generate(char_run, capsys):
    args = ["generate", "--model", str(char_run), "--prompt", "to be or", "--max-new-tokens", "20",
            "--top-k", "5", "--top-p", "0.9", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    sample_text = first.splitlines()[0]
    assert sample_text.startswith("to be or") and len(sample_text) == len("to be or") + 20
    assert set(sample_text) <= set("to be or not to be, that is the question. ")
    assert "roots generate:" in first.splitlines()[-1]
    assert main([*args[:-1], "3"]) == 0 and capsys.readouterr().out == first  # seeded: reproducible
    assert main([*args, "--model", str(char_run / "checkpoints" / "last"), "--temperature", "0"]) == 0


def test_generate_errors(char_run, tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "nowhere"), "--prompt", "x"]) == 2
    assert "neither a checkpoint folder" in capsys.readouterr().err
    assert main(["generate", "--model", str(char_run), "--prompt", "", "--max-new-tokens", "3"]) == 2
    assert "no tokens" in capsys.readouterr().err
    assert main(["generate", "--model", str(char_run), "--prompt", "to", "--top-p", "0"]) == 2


def test_draw_is_one_vectorised_draw_that_never_picks_a_removed_token():
    from roots.model.sampling import SamplingParams, draw

    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    params = [SamplingParams(top_k=2), SamplingParams(temperature=0), SamplingParams(top_p=0.3, seed=1)]
    allowed = [set(logits[0].topk(2).indices.tolist()), {int(logits[1].argmax())}]
    picks = [draw(logits, params, [torch.Generator().manual_seed(s) for s in (i, i, i)]).tolist()
             for i in range(300)]
    assert all(p[0] in allowed[0] and p[1] in allowed[1] for p in picks)
    assert {p[0] for p in picks} == allowed[0]  # both kept tokens do come up
    # a seeded row draws the same token whatever else is in the batch
    alone = draw(logits[2:], params[2:], [torch.Generator().manual_seed(7)])
    together = draw(logits, params, [torch.Generator().manual_seed(s) for s in (1, 2, 7)])
    assert int(alone[0]) == int(together[2])
