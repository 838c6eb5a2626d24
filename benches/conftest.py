"""Shared fixtures of the benchmarks: the real DEV images. The benches folder goes on sys.path so that
benchmark modules share its helpers (devdata, alternate, torch_peer) under pytest and as scripts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devdata import dev_data_dir


@pytest.fixture(scope="session")
def dev_dir() -> Path:
    """The 800-image DEV set (see devdata.py), or ADVENGINE_DEV_DATA."""
    d = dev_data_dir()
    assert (d / "dev_dataset.csv").is_file(), f"DEV data not found at {d}; set ADVENGINE_DEV_DATA"
    return d
