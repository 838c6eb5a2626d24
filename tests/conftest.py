"""Shared fixtures. Paths to the real DEV data and helpers used across the suite."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from advengine.attacks.sources import clear_sources
from advengine.models.sessions import clear_sessions
from advengine.models.zoo import clear_memory_models

REPO = Path(__file__).resolve().parent.parent

# Property tests run the same number of examples everywhere; the deadline is off because CI shares
# two cores with the Rust build and timing is not what these tests check.
settings.register_profile(
    "advengine", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("advengine")


def dev_dataset_dir() -> Path:
    """The 800-image DEV set shipped beside the checkout (../shared/data/nips17_dev), or
    ADVENGINE_DEV_DATA. Tests that need it fail, not skip, when it is missing."""
    env = os.environ.get("ADVENGINE_DEV_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "nips17_dev"


@pytest.fixture(scope="session")
def dev_dir() -> Path:
    d = dev_dataset_dir()
    assert (d / "dev_dataset.csv").is_file(), f"DEV data not found at {d}; set ADVENGINE_DEV_DATA"
    return d


@pytest.fixture(autouse=True)
def _own_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test its own $ADVENGINE_CONFIG: runs keep their HMAC keys there (docs/records.md), and a
    test must neither write into the user's config nor read another test's keys."""
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))


@pytest.fixture(autouse=True, scope="module")
def _drop_shared_sessions() -> Iterator[None]:
    """The process-wide session and attack-source caches (and the models Model.from_onnx made) keep
    every model a module loaded (temp files included, each a new key); one pytest process runs them
    all, and without this the suite grew past 12 GB and was killed for memory. A module's models are
    not reused by the next one."""
    yield
    clear_sources()
    clear_sessions()
    clear_memory_models()
    gc.collect()
