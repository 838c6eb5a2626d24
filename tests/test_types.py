"""The shared roster entries: labels, the discriminated union and their JSON form."""

from __future__ import annotations

import pydantic
import pytest

from advengine.params import Params
from advengine.types import CLEAN, BuiltinEntry, Entry, SandboxSettings, SubmissionEntry

ENTRY: pydantic.TypeAdapter[BuiltinEntry | SubmissionEntry] = pydantic.TypeAdapter(Entry)


def test_builtin_json_records_the_params_as_written() -> None:
    e = BuiltinEntry(track="nontargeted", name="ifgsm", label="i5", params=Params(), given={"iterations": 5})
    assert e.to_json() == {
        "track": "nontargeted",
        "name": "ifgsm",
        "label": "i5",
        "params": {"iterations": 5},
        "models": [],
    }
    assert e.key.startswith("nontargeted/i5/")


def test_submission_json_keeps_the_settings_then_the_run_binding() -> None:
    e = SubmissionEntry(track="defense", label="d", path="/s/d", digest="ab")
    assert e.to_json()["params"] == {
        "sandbox": "auto",
        "memory_mb": 8192,
        "nproc": 256,
        "fsize_mb": 1024,
        "digest": "ab",
    }
    gpu = e.model_copy(update={"settings": SandboxSettings(disk_mb=64, gpus="all")})
    assert {"disk_mb": 64, "gpus": "all"}.items() <= gpu.to_json()["params"].items()
    bound = e.model_copy(update={"time_limit": 20.0, "log_root": "/run/logs"})
    assert list(bound.to_json()["params"])[-2:] == ["time_limit", "log_root"]
    assert bound.key != e.key


def test_the_union_is_told_apart_by_kind() -> None:
    raw = {"kind": "submission", "track": "nontargeted", "label": "a", "path": "/a", "digest": "x"}
    assert isinstance(ENTRY.validate_python(raw), SubmissionEntry)


@pytest.mark.parametrize("label", [CLEAN, "", "has space", "-lead", "x" * 65])
def test_labels_are_portable_names(label: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="letters, digits"):
        SubmissionEntry(track="defense", label=label, path="/p", digest="x")


def test_sandbox_limits_are_positive() -> None:
    with pytest.raises(pydantic.ValidationError):
        SandboxSettings(memory_mb=0)
