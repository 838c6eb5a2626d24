"""Typed parameter parsing: every bad key or value is one ConfigError naming the key."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field, model_validator

from advengine.errors import ConfigError
from advengine.params import Params, describe, parse_params


class Demo(Params):
    steps: Annotated[int, Field(ge=1)] = 10
    mu: float = 1.0
    fusion: Literal["logit", "prob"] = "logit"
    flip: bool = False
    sizes: tuple[int, ...] = (1, 2)
    note: str | None = None

    @model_validator(mode="after")
    def _fits(self) -> Demo:
        if len(self.sizes) > self.steps:
            raise ValueError(f"sizes has more entries than steps ({self.steps})")
        return self


def test_defaults_and_coercion() -> None:
    p = parse_params(Demo, {"steps": "5", "mu": 2, "flip": "yes", "sizes": "3, 4", "note": "x"}, "demo")
    assert p == Demo(steps=5, mu=2.0, flip=True, sizes=(3, 4), note="x")
    assert parse_params(Demo, {}, "demo") == Demo()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stepz": 1}, "demo: unknown parameter 'stepz' (known: flip, fusion, mu, note, sizes, steps)"),
        ({"steps": "many"}, "demo: steps must be an integer, got 'many'"),
        ({"steps": 1.5}, "demo: steps must be an integer, got 1.5"),
        ({"steps": True}, "demo: steps must be an integer, got True"),
        ({"mu": "fast"}, "demo: mu must be a number, got 'fast'"),
        ({"mu": False}, "demo: mu must be a number, got False"),
        ({"fusion": "max"}, "demo: fusion must be one of 'logit', 'prob', got 'max'"),
        ({"flip": 3}, "demo: flip must be true or false, got 3"),
        ({"sizes": 7}, "demo: sizes must be a list, got 7"),
        ({"sizes": "1, x"}, "demo: sizes[1] must be an integer, got 'x'"),
        ({"steps": 0}, "demo: steps must be at least 1, got 0"),
        ({"steps": 1}, "demo: sizes has more entries than steps (1)"),
    ],
)
def test_errors_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_params(Demo, values, "demo")
    assert str(info.value) == message


def test_errors_give_the_key_path_in_a_file() -> None:
    with pytest.raises(ConfigError) as info:
        parse_params(Demo, {"steps": "ten"}, "config.toml", prefix=("attacks", 2, "params"))
    assert str(info.value) == "config.toml: attacks[2].params.steps must be an integer, got 'ten'"


def test_preset_defaults_sit_under_the_given_values() -> None:
    assert parse_params(Demo, {"mu": 3}, "demo", defaults={"mu": 2.0, "steps": 4}) == Demo(mu=3.0, steps=4)


def test_describe_lists_every_field() -> None:
    rows = describe(Demo)
    assert [r["name"] for r in rows] == ["steps", "mu", "fusion", "flip", "sizes", "note"]
    assert rows[0] == {"name": "steps", "type": "int", "default": "10"}
    assert rows[5] == {"name": "note", "type": "str | None", "default": "None"}
    assert describe(Demo, {"steps": 3})[0]["default"] == "3"
