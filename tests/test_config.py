from dataclasses import dataclass, field
from typing import Literal

import pytest

from genrec.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from genrec.errors import GenrecError


@dataclass
class Inner:
    lr: float = 1e-3
    schedule: Literal["cosine", "constant"] = "cosine"


@dataclass
class Outer:
    hidden: int = 64
    name: str | None = None
    layers: list[int] = field(default_factory=lambda: [1, 2])
    train: Inner = field(default_factory=Inner)


def test_overrides_are_typed_and_nested(tmp_path):
    data = apply_overrides(to_dict(Outer()), ["train.lr=0.01", "hidden=128", "layers=[3, 4]"])
    config = from_dict(Outer, data)
    assert config == Outer(hidden=128, layers=[3, 4], train=Inner(lr=0.01))
    save_yaml(tmp_path / "c.yaml", to_dict(config))
    assert from_dict(Outer, load_yaml(tmp_path / "c.yaml")) == config


@pytest.mark.parametrize("override, message", [
    ("hiden=3", "unknown option 'hiden'"),
    ("hidden=abc", "config.hidden: expected int"),
    ("train.schedule=linear", "is not one of"),
    ("hidden", "key=value"),
])
def test_bad_overrides_name_the_field(override, message):
    with pytest.raises(GenrecError, match=message):
        from_dict(Outer, apply_overrides(to_dict(Outer()), [override]))


def test_overrides_read_scientific_notation_as_numbers():
    from genrec.config import apply_overrides

    expected = {"train": {"lr": 3e-4}, "name": "abc", "n": 5}
    assert apply_overrides({}, ["train.lr=3e-4", "name=abc", "n=5"]) == expected
