"""Shared fixtures of the benchmarks: the real DEV images (same lookup as tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def dev_dir() -> Path:
    """The 800-image DEV set beside the checkout, or ADVENGINE_DEV_DATA."""
    env = os.environ.get("ADVENGINE_DEV_DATA")
    d = Path(env) if env else REPO.parent / "shared" / "data" / "nips17_dev"
    assert (d / "dev_dataset.csv").is_file(), f"DEV data not found at {d}; set ADVENGINE_DEV_DATA"
    return d
