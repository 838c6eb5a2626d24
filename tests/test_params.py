"""Typed parameter parsing: every bad key or value is one ConfigError naming the key."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from advengine.errors import ConfigError
from advengine.params import Params, describe, parse_params


@dataclasses.dataclass(frozen=True)
class Demo(Params):
    steps: int = 10
    mu: float = 1.0
    fusion: Literal["logit", "prob"] = "logit"
    flip: bool = False
    sizes: tuple[int, ...] = (1, 2)
    note: str | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


def test_defaults_and_coercion() -> None:
    p = parse_params(Demo, {"steps": "5", "mu": 2, "flip": "yes", "sizes": "3, 4", "note": "x"}, "demo")
    assert p == Demo(steps=5, mu=2.0, flip=True, sizes=(3, 4), note="x")
    assert parse_params(Demo, {}, "demo") == Demo()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stepz": 1}, "unknown parameter 'stepz'"),
        ({"steps": "many"}, "steps must be an integer"),
        ({"steps": 1.5}, "steps must be an integer"),
        ({"steps": True}, "steps must be an integer"),
        ({"mu": "fast"}, "mu must be a number"),
        ({"fusion": "max"}, "fusion must be one of"),
        ({"flip": 3}, "flip must be true or false"),
        ({"sizes": 7}, "sizes must be a list"),
        ({"steps": 0}, "steps must be >= 1"),
    ],
)
def test_errors_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_params(Demo, values, "demo")


def test_describe_lists_every_field() -> None:
    rows = describe(Demo)
    assert [r["name"] for r in rows] == ["steps", "mu", "fusion", "flip", "sizes", "note"]
    assert rows[0] == {"name": "steps", "type": "int", "default": "10"}
