from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from genrec.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict, validate
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


def test_configs_built_in_python_are_checked_field_by_field():
    """A dataclass built directly skips ``from_dict``; ``validate`` (run by every recommender) still
    rejects a value outside a Literal or of the wrong type, naming the nested field."""
    validate(Outer(hidden=3, train=Inner(lr=1)))  # an int where a float goes is fine
    with pytest.raises(GenrecError, match=r"model\.train\.schedule: 'linear' is not one of"):
        validate(Outer(train=Inner(schedule="linear")), "model")
    with pytest.raises(GenrecError, match=r"config\.hidden: expected int"):
        validate(Outer(hidden="64"))


def test_a_recommender_rejects_a_bad_literal_in_a_directly_built_config(beauty):
    from genrec.models.sasrec import SASRec

    with pytest.raises(GenrecError, match=r"sasrec\.loss: 'mse' is not one of"):
        SASRec(SASRec.Config(loss="mse"), beauty)


def test_overrides_read_scientific_notation_as_numbers():
    from genrec.config import apply_overrides

    expected = {"train": {"lr": 3e-4}, "name": "abc", "n": 5}
    assert apply_overrides({}, ["train.lr=3e-4", "name=abc", "n=5"]) == expected


@pytest.mark.parametrize("recipe", sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_recipes_resolve_to_valid_configs(recipe):
    """Every recipe in ``configs/`` names real options with valid values, and they reach the run config."""
    from genrec.runs import resolve_config

    written = load_yaml(recipe)
    config = resolve_config("", "amazon2014/beauty", config_file=recipe)
    assert config.model == written["model"] and config.dataset == "amazon2014/beauty"
    for key, value in written["params"].items():
        if isinstance(value, dict):
            assert value.items() <= config.params[key].items()
        else:
            assert config.params[key] == value
