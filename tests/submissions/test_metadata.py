from __future__ import annotations

import json

import pytest

from advengine.errors import SubmissionError
from advengine.submissions.metadata import parse_metadata

BASE = {"type": "attack", "container": "img:1", "container_gpu": "img:1-gpu", "entry_point": "run_attack.sh"}


def test_parses_the_four_fields_and_ignores_extras() -> None:
    meta = parse_metadata(json.dumps({**BASE, "team": "x"}))
    assert (meta.type, meta.entry_point, meta.container, meta.container_gpu) == (
        "attack",
        "run_attack.sh",
        "img:1",
        "img:1-gpu",
    )
    assert meta.track == "nontargeted"
    assert parse_metadata(json.dumps({**BASE, "type": "targeted_attack"})).track == "targeted"


def test_container_gpu_is_optional() -> None:
    raw = dict(BASE)
    del raw["container_gpu"]
    assert parse_metadata(json.dumps(raw)).container_gpu is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({k: v for k, v in BASE.items() if k != "entry_point"}), "missing field 'entry_point'"),
        (json.dumps({**BASE, "type": "defence"}), "type must be one of"),
        (json.dumps({**BASE, "container": ""}), "container must be"),
        (json.dumps({**BASE, "entry_point": "../run.sh"}), "relative path inside"),
        (json.dumps({**BASE, "entry_point": "/bin/sh"}), "relative path inside"),
    ],
)
def test_bad_metadata_is_one_clear_error(text: str, match: str) -> None:
    with pytest.raises(SubmissionError, match=match) as info:
        parse_metadata(text, source="m.json")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("m.json: ")


def test_deeply_nested_json_is_one_clear_error() -> None:
    with pytest.raises(SubmissionError, match="nested too deeply"):
        parse_metadata("[" * 100_000 + "]" * 100_000)
