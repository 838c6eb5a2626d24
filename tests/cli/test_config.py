"""``advengine config schema`` through main(): the JSON Schema of the competition TOML."""

from __future__ import annotations

import json
import tomllib
from importlib.resources import files
from typing import Any

import pytest

from advengine.cli import main

Capsys = pytest.CaptureFixture[str]


def _schema(capsys: Capsys) -> dict[str, Any]:
    assert main(["config", "schema"]) == 0
    schema: dict[str, Any] = json.loads(capsys.readouterr().out)
    return schema


def test_schema_names_every_top_level_key_of_the_default_config(capsys: Capsys) -> None:
    schema = _schema(capsys)
    default = tomllib.loads(files("advengine.competition").joinpath("default.toml").read_text())
    assert set(default) <= set(schema["properties"])
    assert {"submissions", "targeted_attacks", "dataset", "rounds", "warmup_limit"} <= set(
        schema["properties"]
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["eps"]["enum"] == ["cycle", "random"]
    assert schema["properties"]["batch_size"]["default"] == 100
    entry = schema["$defs"]["EntryTable"]
    assert set(entry["properties"]) == {
        "name",
        "label",
        "params",
        "models",
        "team",
        "baseline",
        "source_defense",
        "num_cpus",
        "num_gpus",
    }
    assert entry["properties"]["num_gpus"]["minimum"] == 0
    assert schema["properties"]["scoring"]["enum"] == ["paper", "original", "devkit", "proposal"]
    sandbox = schema["$defs"]["SubmissionTable"]["properties"]["sandbox"]
    assert sandbox["enum"] == ["auto", "bwrap", "docker", "unsafe-none"]


def test_help(capsys: Capsys) -> None:
    assert main(["config", "schema", "--help"]) == 0
    assert "JSON Schema of the competition TOML" in capsys.readouterr().out
