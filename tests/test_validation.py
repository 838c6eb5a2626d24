"""The one pydantic-error formatter: where, key path, what the value must be, the value given."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, ValidationError, field_validator
from pydantic import Strict as StrictMode

from advengine.errors import ConfigError, ModelError
from advengine.validation import Strict, explain, key_path, must, phrased


class Inner(Strict):
    side: Annotated[int, Field(ge=1, le=9)] = 3
    mode: Literal["a", "b", "c"] = "a"


class Doc(Strict):
    count: Annotated[int, StrictMode(), Field(ge=1), phrased("an integer >= 1")] = 1
    ratio: Annotated[float, Field(gt=0)] = 1.0
    names: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], phrased("a list of names")] = ()
    pair: Annotated[tuple[int, int], phrased("a list of 2 integers")] = (0, 0)
    inner: list[Inner] = Field(default_factory=list)
    needed: str
    odd: int = 1

    @field_validator("odd")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise must("an odd integer")
        return value


def _message(data: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Doc.model_validate({"needed": "x", **data})
    return str(explain(info.value, "f.toml", **kwargs))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count": 0}, "f.toml: count must be an integer >= 1, got 0"),
        ({"count": "2"}, "f.toml: count must be an integer >= 1, got '2'"),
        ({"ratio": 0}, "f.toml: ratio must be positive, got 0"),
        ({"ratio": "x"}, "f.toml: ratio must be a number, got 'x'"),
        ({"names": ["a", ""]}, "f.toml: names[1] must be a non-empty string, got ''"),
        ({"names": 3}, "f.toml: names must be a list of names, got 3"),
        ({"pair": [1]}, "f.toml: pair must be a list of 2 integers, got [1]"),
        ({"inner": [{}, {"side": 0}]}, "f.toml: inner[1].side must be at least 1, got 0"),
        ({"inner": [{"side": 10}]}, "f.toml: inner[0].side must be at most 9, got 10"),
        ({"inner": [{"mode": "d"}]}, "f.toml: inner[0].mode must be one of 'a', 'b', 'c', got 'd'"),
        ({"inner": [{"colour": 1}]}, "f.toml: inner[0].colour is not a known key (known: mode, side)"),
        (
            {"colour": 1},
            "f.toml: colour is not a known key (known: count, inner, names, needed, odd, pair, ratio)",
        ),
        ({"odd": 2}, "f.toml: odd must be an odd integer, got 2"),
    ],
)
def test_messages_name_file_key_rule_and_value(data: dict[str, Any], message: str) -> None:
    assert _message(data) == message


def test_missing_fields_and_key_prefix() -> None:
    with pytest.raises(ValidationError) as info:
        Doc.model_validate({})
    assert str(explain(info.value, "f.toml")) == "f.toml: missing field 'needed'"
    text = _message({"count": 0}, prefix=("attacks", 2, "params"))
    assert text == "f.toml: attacks[2].params.count must be an integer >= 1, got 0"


def test_error_class_is_the_callers() -> None:
    with pytest.raises(ValidationError) as info:
        Doc.model_validate({"needed": "x", "count": 0})
    assert isinstance(explain(info.value, "m.json", error=ModelError), ModelError)
    assert isinstance(explain(info.value, "m.json"), ConfigError)


def test_key_path() -> None:
    assert key_path(["attacks", 2, "params", "steps"]) == "attacks[2].params.steps"
    assert key_path([]) == ""
