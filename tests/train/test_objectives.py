"""MLM + NSP and span-corruption objectives: masking statistics, pair structure, and `roots train` runs
of the encoder and encoder-decoder families on a tiny real-text corpus."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

from roots.model.config import ModelConfig
from roots.train.config import OptimConfig, ScheduleConfig, TrainConfig
from roots.train.objectives import mask_tokens, random_spans_noise_mask, span_corrupt


def test_masking_statistics_match_bert():
    rng = np.random.default_rng(0)
    ids = rng.integers(10, 1000, (400, 256))
    maskable = np.ones_like(ids, dtype=bool)
    maskable[:, 0] = False  # e.g. [CLS]: never predicted
    inputs, targets = mask_tokens(ids, maskable, mask_id=3, vocab_size=1000, rng=rng)
    predicted = targets != -100
    assert not predicted[:, 0].any()
    assert predicted[:, 1:].mean() == pytest.approx(0.15, abs=0.005)
    assert (targets[predicted] == ids[predicted]).all()
    n = predicted.sum()
    as_mask = (inputs[predicted] == 3).sum() / n
    unchanged = (inputs[predicted] == ids[predicted]).sum() / n
    assert as_mask == pytest.approx(0.8, abs=0.01)
    assert unchanged == pytest.approx(0.1 + 0.1 / 1000, abs=0.01)  # "keep" plus random draws of the same id
    assert 1 - as_mask - unchanged == pytest.approx(0.1, abs=0.01)
    assert (inputs[~predicted] == ids[~predicted]).all()


def test_span_corruption_round_trip():
    rng = np.random.default_rng(1)
    tokens = np.arange(100, 200)
    mask = random_spans_noise_mask(100, 0.15, 3.0, rng)
    assert mask.sum() == 15 and not mask[0]
    spans = int((mask[1:] & ~mask[:-1]).sum())
    assert spans == 5
    sentinels = tuple(range(10, 20))
    inputs, targets = span_corrupt(tokens, mask, sentinels, eos=1)
    assert len(inputs) == 85 + spans + 1 and len(targets) == 15 + spans + 1
    # filling each sentinel of the input with its span from the target restores the window
    fill, current = {}, None
    for t in targets[:-1]:
        if t in sentinels:
            current = t
            fill[t] = []
        else:
            fill[current].append(t)
    restored = [x for t in inputs[:-1] for x in (fill[t] if t in sentinels else [t])]
    assert restored == tokens.tolist()


def test_span_corruption_without_enough_sentinels_is_a_clear_error():
    from roots.common.errors import UserError

    mask = np.zeros(20, dtype=bool)
    mask[[2, 5, 8]] = True
    with pytest.raises(UserError, match="sentinel"):
        span_corrupt(np.arange(20), mask, (10, 11), eos=1)


def _corpus(tmp_path):
    """Real English text shipped with Python itself: the docstrings of stdlib modules, one per document."""
    import collections
    import email
    import json as json_mod
    import pathlib
    import tarfile
    import typing
    import zipfile

    docs = []
    for module in (collections, email, json_mod, pathlib, tarfile, typing, zipfile, inspect, np, torch):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200:
                docs.append(doc)
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(docs[:400])))
    return path


def _shards(tmp_path, kind: str):
    from roots.tokenizer.shards import TokenizeConfig, tokenize
    from roots.tokenizer.tokenizer import Tokenizer

    corpus = _corpus(tmp_path)
    Tokenizer.train(str(corpus), kind, vocab_size=600, sentinels=20).save(tmp_path / "tok")
    tokenize(TokenizeConfig(tokenizer=str(tmp_path / "tok"), input=str(corpus), output=str(tmp_path / "shards"),
                            val_fraction=0.1))
    return tmp_path / "shards"


def _train(tmp_path, kind: str, preset: str):
    from roots.train.trainer import Trainer

    config = TrainConfig(
        data=str(_shards(tmp_path, kind)), out_dir=str(tmp_path / "run"),
        model=ModelConfig.from_preset(preset, vocab_size=0, block_size=48), batch_size=8, max_steps=30,
        eval_every=15, eval_batches=2, threads=1, tensorboard=False, optim=OptimConfig(lr=3e-3),
        schedule=ScheduleConfig(warmup_steps=3))
    trainer = Trainer(config)
    before = trainer.evaluate()
    result = trainer.fit()
    return trainer, before, result


def test_train_encoder_mlm_nsp(tmp_path):
    trainer, before, result = _train(tmp_path, "wordpiece", "debug-bert")
    batch = trainer.train_loader.next_step()[0]
    ids = batch["idx"]
    assert (ids[:, 0] == trainer.train_loader.ids.cls).all()
    assert set(batch["nsp_targets"].tolist()) <= {0, 1}
    assert result["best_val_loss"] < before  # learns something in 30 steps
    from roots.model.io import find_checkpoint, load_model

    model = load_model(find_checkpoint(tmp_path / "run"))
    assert model.config.arch == "encoder"


def test_train_seq2seq_span_corruption_and_resume(tmp_path):
    from roots.train.trainer import Trainer

    trainer, before, result = _train(tmp_path, "unigram", "debug-bart")
    assert result["best_val_loss"] < before
    batch = trainer.train_loader.next_step()[0]
    sentinels = set(trainer.train_loader.ids.sentinels)
    assert any(int(t) in sentinels for t in batch["idx"][0])
    # resume: a fresh Trainer on the same run folder continues from the last checkpoint
    again = Trainer(trainer.config)
    assert again.step == 30
