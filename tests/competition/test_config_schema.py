"""Schema = validator: ``advengine config schema`` (the JSON Schema of :class:`ConfigFile`) accepts
exactly the documents that the pydantic models accept (issue 29: the schema had no label pattern and
no time_limit maximum, so ``label = "../../evil"`` passed jsonschema and failed eval).

The documents come from this module's own strategies (hypothesis-jsonschema 0.23 fails inside the
installed hypothesis 6.170: "'many' object has no attribute 'more'"): every top-level key and entry key
with values that are right, wrong in type, or just past a bound, so both directions are compared.

JSON has no NaN or Infinity (RFC 8259), so the comparison is over JSON documents; ``time_limit = inf``
("no limit") exists only in TOML, and a NaN cannot be written as JSON at all."""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from advengine.competition.config import ConfigFile, config_schema

SCHEMA = config_schema()
CHECKER = jsonschema.Draft202012Validator(SCHEMA)


def schema_ok(doc: Any) -> bool:
    return CHECKER.is_valid(doc)


def validator_ok(doc: Any) -> bool:
    try:
        ConfigFile.model_validate(doc)
    except ValidationError:
        return False
    return True


# Near misses: each key takes a value that is right, wrong in type, or just past a bound.
VALUES: dict[str, list[Any]] = {
    "seed": [0, 7, -1, 1.5, "3", True, None],
    "batch_size": [1, 100, 0, -2, 2.5, "10", False],
    "eps": ["cycle", "random", "Cycle", 4, ""],
    "time_limit": [0.5, 500, 86400, 86400.5, 0, -1, "500", True, 1e308],
    "warmup_limit": [1, 600.0, 86400, 86401, 0, "60", None],
    "scoring": ["paper", "original", "devkit", "proposal", "best", 1],
    "providers": [["CPUExecutionProvider"], [], [""], "CPUExecutionProvider", [1], None],
    "plugins": [[], ["a.b"], [""], [None]],
    "dataset": [{}, {"dir": "d"}, {"dir": ""}, {"limit": 0}, {"limit": 3}, {"other": 1}, [], "d"],
    "unknown_key": [1],
}
LABELS = ["fgsm", "a.b-c_1", "../../evil", "clean", "", "-x", "x" * 64, "x" * 65, "é", 3, None]
ENTRY_KEYS: dict[str, list[Any]] = {
    "name": ["fgsm", "", 3],
    "label": LABELS,
    "params": [{}, {"steps": 3}, [], "x"],
    "models": [[], ["efficientnet-lite0"], [""], "m"],
    "num_cpus": [0, 1, 0.5, -1, "1", True],
    "num_gpus": [0, 0.25, -0.5, None],
    "team": ["t", "", None, 1],
    "baseline": [True, False, 1, "yes"],
    "source_defense": LABELS,
    "bogus": [1],
}


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(ENTRY_KEYS)), unique=True, max_size=4))
    entry = {k: draw(st.sampled_from(ENTRY_KEYS[k])) for k in keys}
    if draw(st.booleans()):
        entry["name"] = "fgsm"  # most entries name something, so the other keys get checked
    return entry


@st.composite
def near_misses(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), unique=True, max_size=4))
    doc = {k: draw(st.sampled_from(VALUES[k])) for k in keys}
    for section in draw(st.lists(st.sampled_from(["attacks", "targeted_attacks", "defenses"]), unique=True)):
        doc[section] = draw(st.lists(entries(), max_size=2))
    if draw(st.booleans()):
        doc["rounds"] = [{"name": draw(st.sampled_from(LABELS))}]
    return doc


@given(near_misses())
def test_schema_and_validator_agree_on_near_misses(doc: dict[str, Any]) -> None:
    assert schema_ok(doc) == validator_ok(doc), json.dumps(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"attacks": [{"name": "fgsm", "label": "../../evil"}]},
        {"attacks": [{"name": "fgsm", "label": "clean"}]},
        {"time_limit": 86401},
        {"attacks": [{"label": "x"}]},  # no name
        {"rounds": [{}]},  # a round without a name
        {"submissions": [{"label": "x"}]},  # no path
        {"defenses": [{"name": "median", "num_cpus": "2"}]},
    ],
)
def test_the_issues_cases_fail_both(doc: dict[str, Any]) -> None:
    assert not schema_ok(doc)
    assert not validator_ok(doc)


def test_the_one_known_difference_is_json_schemas_integers() -> None:
    """JSON Schema counts 2.0 as an integer (a number with a zero fractional part); TOML's 2.0 is a
    float, and the validator takes no float for a count. No keyword can say otherwise in a schema."""
    assert schema_ok({"batch_size": 2.0})
    assert not validator_ok({"batch_size": 2.0})


def test_nan_and_inf_are_not_json() -> None:
    """The validator refuses NaN everywhere (and inf but for time_limit's "no limit"); JSON cannot
    carry either, so a TOML file with one never reaches a JSON Schema checker as JSON."""
    for key in ("time_limit", "warmup_limit"):
        assert not validator_ok({key: math.nan})
        with pytest.raises(ValueError, match="Out of range float values"):
            json.dumps({key: math.nan}, allow_nan=False)
    assert not validator_ok({"defenses": [{"name": "median", "num_gpus": math.inf}]})
    assert validator_ok({"time_limit": math.inf})
