"""A config that names what this machine cannot give fails once, at load, before any piece runs (it
used to be accepted, and then every piece failed with exit 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.competition.conftest import MakeConfig

from advengine.competition import run_competition
from advengine.errors import ConfigError

NOOP_SUBMISSION = Path(__file__).resolve().parents[1] / "submissions" / "samples" / "noop_attack"


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({}, "the roster is empty"),
        (
            {"attacks": [{"name": "noop"}], "providers": ["FooExecutionProvider"]},
            "providers: ONNX Runtime provider FooExecutionProvider is not available",
        ),
        (
            {"attacks": [{"name": "ifgsm", "models": ["lite9"]}]},
            r"ifgsm: models: unknown model 'lite9'; known models: ",
        ),
        (
            {"submissions": [{"path": str(NOOP_SUBMISSION), "memory_mb": 2**63 - 1}]},
            r"memory_mb = 9223372036854775807 is more than this machine has",
        ),
    ],
)
def test_refused_before_any_piece_runs(
    doc: dict[str, Any], match: str, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(**doc)
    with pytest.raises(ConfigError, match=match):
        run_competition(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_iterations_are_bounded_at_parse(make_config: MakeConfig) -> None:
    with pytest.raises(ConfigError, match=r"attacks\[0\]\.params\.iterations"):
        make_config(attacks=[{"name": "ifgsm", "params": {"iterations": 10**12}}])
    make_config(attacks=[{"name": "ifgsm", "params": {"iterations": 10_000}}])
