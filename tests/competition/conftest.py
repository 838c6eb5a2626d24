"""Fixtures of the competition tests: a small slice of the embedded sample and configs built on it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from advengine.competition import CompetitionConfig, parse_config
from advengine.data import sample_dataset_dir

#: Importing it registers the fake attacks and defenses; workers import it through `plugins`.
FAKES = "tests.competition.fakes"


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fakes_importable_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned workers start from this process's sys.path; pytest's importlib mode does not put the
    # checkout on it, so the plugin module would not be found there.
    monkeypatch.syspath_prepend(str(REPO))


@pytest.fixture
def sample_dir() -> str:
    return str(sample_dataset_dir())


MakeConfig = Callable[..., CompetitionConfig]


@pytest.fixture
def make_config(sample_dir: str) -> MakeConfig:
    """A config on the first ``limit`` sample images; keyword arguments are TOML top-level keys."""

    def make(limit: int = 8, **doc: Any) -> CompetitionConfig:
        base: dict[str, Any] = {
            "plugins": [FAKES],
            "batch_size": 4,
            "dataset": {"dir": sample_dir, "limit": limit},
        }
        base.update(doc)
        return parse_config(base, source="test.toml")

    return make


def oracle(sample_dir: str, **params: Any) -> dict[str, Any]:
    return {"name": "fake-oracle", "params": {"dataset": sample_dir, **params}}


def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


@contextlib.contextmanager
def lock_holder(statement: str) -> Iterator[subprocess.Popen[str]]:
    """Another process that runs ``statement`` (``RunDir`` and ``Path`` imported), which takes a run
    dir's writer lock, and holds it until the block ends; yields that process (its pid names the
    holder). flock is per open file, so only another process is refused."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from pathlib import Path; from advengine.competition.state import RunDir; "
         f"{statement}; print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
