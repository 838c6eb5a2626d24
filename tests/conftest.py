"""Shared fixtures. Paths to the real DEV data and helpers used across the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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
