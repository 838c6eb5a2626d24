"""Small synthetic NIPS 2017 datasets written into tmp_path, one knob per validation rule."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.data.metadata import NIPS17_COLUMNS
from advengine.kernels import write_png_batch

MakeDataset = Callable[..., Path]


def rows_for(ids: list[str]) -> list[list[str]]:
    """Full 12-column rows, one with a quoted, comma-bearing Author as in the real DEV file."""
    rows = []
    for k, image_id in enumerate(ids):
        author = "Smith, Jane" if k == 0 else f"author{k}"
        rows.append(
            [
                image_id,
                f"https://example.org/{image_id}.jpg",
                "0",
                "0.25",
                "0.75",
                "1",
                str(10 + k),
                str(500 + k),
                f"https://example.org/page/{image_id}",
                "https://creativecommons.org/licenses/by/2.0/",
                author,
                "https://example.org/people/x/",
            ]
        )
    return rows


def random_images(n: int, seed: int = 0, side: int = 299) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def write_csv(path: Path, header: list[str] | tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """``make_dataset(ids=…, rows=…, csv_name=…)`` writes ``images/<id>.png`` (random 299×299 RGB)
    and the CSV, returning the dataset dir; the written pixels are in ``<dir>/pixels.npy``."""
    counter = iter(range(1000))

    def make(
        ids: list[str] | None = None,
        rows: list[list[str]] | None = None,
        header: tuple[str, ...] = NIPS17_COLUMNS,
        csv_name: str | None = "dev_dataset.csv",
    ) -> Path:
        root = tmp_path / f"ds{next(counter)}"
        (root / "images").mkdir(parents=True)
        ids = ids if ids is not None else ["0aa", "1bb", "2cc"]
        pixels = random_images(len(ids))
        write_png_batch(pixels, [root / "images" / f"{i}.png" for i in ids], fast=True)
        np.save(root / "pixels.npy", pixels)
        if csv_name is not None:
            write_csv(root / csv_name, header, rows if rows is not None else rows_for(ids))
        return root

    return make
