"""Typed configs: dataclasses, loaded from and saved to YAML, with dotted overrides from the CLI.

A run saves its fully resolved config, so ``genrec train --config run/config.yaml`` repeats it.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from genrec.errors import GenrecError
from genrec.io import write_text

T = TypeVar("T")


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls: type[T], data: dict | None, where: str = "config") -> T:
    """Build ``cls`` from a plain dict, checking names and types, recursing into nested dataclasses."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise GenrecError(f"{where}: unknown option {unknown[0]!r}; known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def validate(config: Any, where: str = "config") -> None:
    """Check every field of a config built in Python, which skips ``from_dict``'s checks, against its type
    hint (a ``Literal``'s allowed values included), so a typo fails at once with the field's name."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, name = getattr(config, f.name), f"{where}.{f.name}"
        if dataclasses.is_dataclass(value):
            validate(value, name)
        else:
            _coerce(hints[f.name], value, name)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise GenrecError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except GenrecError:
                continue
        raise GenrecError(f"{where}: {value!r} is not a valid {hint}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise GenrecError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is typing.Literal:
        if value not in args:
            raise GenrecError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if hint is Any or origin is dict:
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, Path):
        return str(value)
    if isinstance(hint, type) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise GenrecError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
    return value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``["train.lr=0.01", "hidden=64"]`` -> nested dict updates; values are parsed as YAML."""
    data = dict(data)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise GenrecError(f"override {override!r} is not of the form key=value")
        node = data
        *parents, leaf = key.strip().split(".")
        for part in parents:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[leaf] = parse_value(raw)
    return data


_SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def parse_value(raw: str):
    """YAML, except that ``3e-4`` is a float (YAML 1.1 needs ``3.0e-4``, which nobody types)."""
    value = yaml.safe_load(raw)
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value)
    return value


def load_yaml(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise GenrecError(f"{path}: no such config file") from None
    except yaml.YAMLError as e:
        raise GenrecError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise GenrecError(f"{path}: a config must be a mapping")
    return data


def save_yaml(path: str | Path, data: dict) -> None:
    write_text(path, yaml.safe_dump(data, sort_keys=False))
