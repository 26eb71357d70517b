"""Typed dataclass configs: the one source of truth for YAML files and CLI flags.

A config is a (possibly nested) dataclass. `from_dict` builds one from plain data (YAML) and checks
types and `Literal` choices; `add_arguments` / `from_args` turn its fields into CLI flags, with nested
fields as dotted flags (`--model.n_layer 4`), so `--help` documents every field.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from roots.common.errors import ConfigError

T = TypeVar("T")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Coerce plain data (from YAML or a CLI string) into type `tp`, with a clear error."""
    optional, inner = _is_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: a value is required")
    tp = inner
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            # CLI values arrive as strings: try matching against the string form of the choices
            matches = [c for c in choices if str(c) == str(value)]
            if not matches:
                raise ConfigError(f"{where}: {value!r} is not one of {list(choices)}")
            value = matches[0]
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp in (int, float, str):
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return tp(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from e
    if tp is Path:
        return Path(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass `cls` from a mapping, rejecting unknown keys (typos) with the list of valid ones."""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(
            f"{where or cls.__name__}: unknown field(s) {sorted(unknown)}; valid fields: {sorted(names)}"
        )
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain data for YAML/JSON (paths as strings, tuples as lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, os.PathLike):
            return str(v)
        return v

    return plain(config)


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level")
    return data


def save_yaml(config: Any, path: str | os.PathLike) -> None:
    from roots.common.io import atomic_write

    with atomic_write(path) as f:
        yaml.safe_dump(to_dict(config), f, sort_keys=False, allow_unicode=True)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: values of `override` win."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------- CLI flags


def _field_help(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


def _default_repr(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one flag per (nested) field of `cls`. Values stay strings here; `from_args` converts them."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        tp = hints[f.name]
        _, inner = _is_optional(tp)
        dotted = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(inner):
            add_arguments(parser, inner, prefix=f"{dotted}.")
            continue
        default = _default_repr(f)
        required = default is dataclasses.MISSING
        parts = [_field_help(f)]
        if get_origin(inner) is Literal:
            parts.append("choices: " + ", ".join(map(str, get_args(inner))))
        if not required:
            parts.append(f"default: {default}")
        else:
            parts.append("required")
        flag = "--" + dotted.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": dotted, "default": argparse.SUPPRESS,
                                  "help": "; ".join(p for p in parts if p)}
        if inner is bool:
            kwargs.update(nargs="?", const="true", metavar="BOOL")
        elif get_origin(inner) in (list, tuple):
            # --input a b, --input a,b, or --input a --input b (repeats add up)
            kwargs.update(nargs="+", action="extend", metavar=f.name.upper())
        else:
            kwargs["metavar"] = f.name.upper()
        if f.metadata.get("positional"):  # `roots lists update ut1`
            kwargs["nargs"] = None if required else "?"
            kwargs.pop("dest")
            parser.add_argument(dotted, **kwargs)
            continue
        names = [flag] if flag == "--" + dotted else [flag, "--" + dotted]
        parser.add_argument(*names, **kwargs)


def from_args(cls: type[T], args: argparse.Namespace, base: dict[str, Any] | None = None) -> T:
    """Build `cls` from a YAML-derived `base` mapping overridden by the flags the user gave."""
    data = dict(base or {})
    for dotted, value in vars(args).items():
        if dotted in ("config",) or dotted.startswith("_"):
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        if isinstance(value, list):  # nargs="+": each word may itself be comma-separated
            value = [v for item in value for v in item.split(",") if v != ""]
        node[leaf] = value
    missing = [f.name for f in dataclasses.fields(cls)
               if f.init and _default_repr(f) is dataclasses.MISSING and f.name not in data]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise ConfigError(f"missing required option(s): {flags}")
    return from_dict(cls, data)
