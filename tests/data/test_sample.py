from __future__ import annotations

import csv
from pathlib import Path

from advengine.data import sample_dataset_dir
from advengine.data.metadata import NIPS17_COLUMNS
from advengine.data.sample import SAMPLE_SIZE


def test_sample_is_the_first_100_dev_images(dev_dir: Path) -> None:
    sample = sample_dataset_dir()
    with (sample / "dev_dataset.csv").open(newline="") as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == NIPS17_COLUMNS
        rows = list(reader)
    with (dev_dir / "dev_dataset.csv").open(newline="") as f:
        dev = sorted(list(csv.reader(f))[1:])
    assert len(rows) == SAMPLE_SIZE
    assert rows == dev[:SAMPLE_SIZE]  # every column, attribution included
    for row in rows:
        name = f"{row[0]}.png"
        assert (sample / "images" / name).read_bytes() == (dev_dir / "images" / name).read_bytes()
    assert sorted(p.name for p in (sample / "images").iterdir()) == sorted(f"{r[0]}.png" for r in rows)


def test_sample_carries_its_licence_note() -> None:
    readme = (sample_dataset_dir() / "README.md").read_text()
    assert "Creative Commons Attribution 2.0" in readme
    assert "Author" in readme
