"""Every shipped YAML in configs/ loads into its typed config."""

from __future__ import annotations

from pathlib import Path

import pytest

from roots.common.config import from_dict, load_yaml
from roots.train.config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
TRAIN_CONFIGS = [p for p in CONFIGS if "model" in load_yaml(p)]


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_shipped_train_config_loads(path):
    config = from_dict(TrainConfig, load_yaml(path))
    assert config.data and config.max_steps > 0
    assert config.block_size <= config.model.block_size


def test_the_benchmark_configs_are_shipped():
    names = {p.name for p in TRAIN_CONFIGS}
    assert {"shakespeare_char_baby.yaml", "shakespeare_char.yaml", "encoder_tiny.yaml", "seq2seq_tiny.yaml"} <= names
