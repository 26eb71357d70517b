from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from roots.common.config import ConfigError, add_arguments, from_args, from_dict, to_dict


@dataclass
class Inner:
    n_layer: int = 2
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"


@dataclass
class Outer:
    name: str
    lr: float = 1e-3
    compile: bool = False
    tags: list[str] = field(default_factory=list)
    model: Inner = field(default_factory=Inner)


def test_from_dict_nested_and_roundtrip():
    cfg = from_dict(Outer, {"name": "x", "model": {"n_layer": 4, "norm": "rmsnorm"}})
    assert cfg.model.n_layer == 4 and cfg.model.norm == "rmsnorm"
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_unknown_and_bad_values_are_clear():
    with pytest.raises(ConfigError, match="unknown field"):
        from_dict(Outer, {"name": "x", "lr_typo": 1})
    with pytest.raises(ConfigError, match="not one of"):
        from_dict(Outer, {"name": "x", "model": {"norm": "batchnorm"}})
    with pytest.raises(ConfigError, match="expected int"):
        from_dict(Outer, {"name": "x", "model": {"n_layer": "four"}})


def test_cli_flags_override_yaml_base():
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    add_arguments(parser, Outer)
    args = parser.parse_args(["--model.n-layer", "6", "--compile", "--tags", "a,b"])
    cfg = from_args(Outer, args, base={"name": "from-yaml", "lr": 0.1})
    assert (cfg.name, cfg.lr, cfg.compile, cfg.tags, cfg.model.n_layer) == ("from-yaml", 0.1, True, ["a", "b"], 6)
    args = parser.parse_args(["--tags", "a", "b,c"])  # list flags take several words too
    assert from_args(Outer, args, base={"name": "x"}).tags == ["a", "b", "c"]
    args = parser.parse_args(["--tags", "a", "--tags", "b"])  # a repeated list flag adds up
    assert from_args(Outer, args, base={"name": "x"}).tags == ["a", "b"]


def test_missing_required_flag():
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    add_arguments(parser, Outer)
    with pytest.raises(ConfigError, match="--name"):
        from_args(Outer, parser.parse_args([]))
