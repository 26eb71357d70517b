"""The scripting API users expect: Trainer(model=TransformerModel(...), dataset=..., ...).train()."""

from __future__ import annotations

import pytest
import torch

from roots import Trainer, TransformerModel
from roots.model.io import load_model
from roots.train.config import OptimConfig


def test_keyword_trainer_trains_the_given_module(shards, tmp_path):
    model = TransformerModel.from_preset("debug", vocab_size=64, block_size=32)
    before = model.lm_head.weight.detach().clone()
    trainer = Trainer(model=model, dataset=shards, out_dir=str(tmp_path / "run"), max_steps=4, batch_size=4,
                      eval_every=4, eval_batches=2, optim=OptimConfig(lr=1e-2), tensorboard=False)
    assert trainer.model is model  # trained as given: its weights, its config
    result = trainer.train()
    assert result["step"] == 4 and result["val_loss"] is not None
    assert not torch.equal(model.lm_head.weight, before)
    assert (tmp_path / "run/checkpoints/last/model.safetensors").exists()
    loaded = load_model(tmp_path / "run/checkpoints/last")
    torch.testing.assert_close(loaded.lm_head.weight, model.lm_head.weight.detach())


def test_unknown_keyword_is_a_clear_error(shards, tmp_path):
    with pytest.raises(TypeError, match="max_stepz"):
        Trainer(model=TransformerModel.from_preset("debug", vocab_size=64), dataset=shards, max_stepz=3)
