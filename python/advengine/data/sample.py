"""The 100-image DEV sample that ships inside the package (see sample/README.md for attribution)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from advengine.errors import DatasetError

SAMPLE_SIZE = 100


def sample_dataset_dir() -> Path:
    """Path of the embedded NIPS 2017 DEV sample (``images/`` + ``dev_dataset.csv``)."""
    res = files("advengine.data").joinpath("sample")
    # A regular (unzipped) install hands back a real path, which is what every caller needs.
    if not isinstance(res, Path):
        raise DatasetError(
            "advengine is installed in a zipped form that cannot expose the embedded sample as a "
            "directory; reinstall it with pip (unpacked)"
        )
    if not (res / "dev_dataset.csv").is_file() or not (res / "images").is_dir():
        raise DatasetError(f"{res}: the embedded sample is missing from this install; reinstall advengine")
    return res


__all__ = ["SAMPLE_SIZE", "sample_dataset_dir"]
