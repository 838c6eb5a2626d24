"""Shared fixtures of the CLI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advengine.data import load_dataset, sample_dataset_dir


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    # One-line errors, as users see them.
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    """Three sample images as a plain dir of PNGs (no CSV), the NIPS17 attack and defense input layout."""
    ds = load_dataset(sample_dataset_dir()).head(3)
    d = tmp_path / "input"
    d.mkdir()
    for p in ds.image_paths:
        shutil.copy(p, d / p.name)
    return d
