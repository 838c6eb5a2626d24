from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advengine.data import Dataset, load_dataset, sample_dataset_dir
from advengine.data.dataset import resolve_layout
from advengine.data.metadata import NIPS17_COLUMNS
from advengine.errors import DatasetError, ImageError, ParameterError

from .conftest import MakeDataset, rows_for, write_csv


def test_nips_dir_loads_sorted_with_labels(make_dataset: MakeDataset) -> None:
    root = make_dataset(ids=["2cc", "0aa", "1bb"])
    ds = load_dataset(root)
    assert ds.image_ids == ["0aa", "1bb", "2cc"]
    assert ds.image_paths == [root / "images" / f"{i}.png" for i in ds.image_ids]
    # rows_for gives the k-th written id the labels 10+k / 500+k; written order was 2cc, 0aa, 1bb.
    assert ds.true_labels is not None
    assert ds.target_classes is not None
    assert ds.true_labels.tolist() == [11, 12, 10]
    assert ds.target_classes.tolist() == [501, 502, 500]
    assert ds.true_labels.dtype == np.int64
    assert ds.csv_path == root / "dev_dataset.csv"
    assert ds.rows is not None
    assert ds.rows[2].fields["Author"] == "Smith, Jane"
    assert len(ds) == 3
    assert ds.labelled


def test_read_images_returns_the_written_pixels(make_dataset: MakeDataset) -> None:
    root = make_dataset(ids=["0aa", "1bb", "2cc"])
    pixels = np.load(root / "pixels.npy")
    ds = load_dataset(root)
    np.testing.assert_array_equal(ds.read_images(), pixels)
    np.testing.assert_array_equal(ds.read_images(1, 2), pixels[1:2])
    assert ds.read_images(3).shape == (0, 299, 299, 3)
    got = list(ds.batches(2))
    assert [s for s, _ in got] == [0, 2]
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), pixels)
    with pytest.raises(ParameterError, match="batch_size"):
        next(ds.batches(0))
    with pytest.raises(ParameterError, match="start"):
        ds.read_images(1.5)  # type: ignore[arg-type]


def test_head_and_take(make_dataset: MakeDataset) -> None:
    ds = load_dataset(make_dataset(ids=["0aa", "1bb", "2cc"]))
    h = ds.head(2)
    assert isinstance(h, Dataset)
    assert h.image_ids == ["0aa", "1bb"]
    assert h.true_labels is not None
    assert h.true_labels.tolist() == [10, 11]
    assert len(ds.head(10)) == 3
    t = ds.take([2, 0])
    assert t.image_ids == ["2cc", "0aa"]
    assert t.rows is not None
    assert [r.image_id for r in t.rows] == ["2cc", "0aa"]
    with pytest.raises(ParameterError, match="out of range"):
        ds.take([3])
    with pytest.raises(ParameterError, match="non-negative"):
        ds.head(-1)


def test_csv_path_and_explicit_csv(make_dataset: MakeDataset, tmp_path: Path) -> None:
    root = make_dataset()
    assert load_dataset(root / "dev_dataset.csv").image_ids == ["0aa", "1bb", "2cc"]
    # A download writes PNGs straight into DIR; the CSV comes from elsewhere.
    flat = tmp_path / "flat"
    shutil.copytree(root / "images", flat)
    assert not load_dataset(flat).labelled
    ds = load_dataset(flat, csv=root / "dev_dataset.csv")
    assert ds.labelled
    assert ds.image_paths[0] == flat / "0aa.png"
    # The only CSV of a dir with images/ is used whatever its name.
    (root / "dev_dataset.csv").rename(root / "final_dataset.csv")
    assert load_dataset(root).csv_path == root / "final_dataset.csv"


def test_plain_dir_has_no_labels(make_dataset: MakeDataset) -> None:
    images = make_dataset(csv_name=None) / "images"
    (images / "target_class.csv").write_text("0aa.png,3\n")  # attack inputs carry this; not a dataset CSV
    (images / ".0aa.png.tmp-12").write_bytes(b"half")
    ds = load_dataset(images)
    assert ds.image_ids == ["0aa", "1bb", "2cc"]
    assert ds.true_labels is None
    assert ds.target_classes is None
    assert ds.rows is None
    assert ds.read_images().shape == (3, 299, 299, 3)


def test_layout_errors(make_dataset: MakeDataset, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nothing")
    root = make_dataset(csv_name=None)
    with pytest.raises(DatasetError, match="has images/ but no CSV"):
        load_dataset(root)
    write_csv(root / "a.csv", NIPS17_COLUMNS, rows_for(["0aa"]))
    write_csv(root / "b.csv", NIPS17_COLUMNS, rows_for(["0aa"]))
    with pytest.raises(DatasetError, match=r"several CSV files \(a.csv, b.csv\)"):
        load_dataset(root)
    with pytest.raises(DatasetError, match="is a file"):
        load_dataset(root / "images" / "0aa.png")
    with pytest.raises(DatasetError, match="CSV file not found"):
        load_dataset(root, csv=root / "c.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no \.png images"):
        load_dataset(empty)
    assert resolve_layout(root, root / "a.csv").images_dir == root / "images"


def test_missing_image(make_dataset: MakeDataset) -> None:
    root = make_dataset()
    (root / "images" / "1bb.png").unlink()
    with pytest.raises(ImageError, match=r"1bb.png: image is missing \(listed on line 3"):
        load_dataset(root)


def test_image_without_row(make_dataset: MakeDataset) -> None:
    root = make_dataset(ids=["0aa", "1bb", "2cc"], rows=rows_for(["0aa", "1bb"]))
    with pytest.raises(DatasetError, match=r"2cc.png: image has no row in .*dev_dataset.csv"):
        load_dataset(root)


def test_wrong_size_and_mode(make_dataset: MakeDataset) -> None:
    root = make_dataset()
    Image.new("RGB", (300, 299)).save(root / "images" / "1bb.png")
    with pytest.raises(ImageError, match=r"1bb.png: size is 300x299, expected 299x299"):
        load_dataset(root)
    Image.new("RGBA", (299, 299)).save(root / "images" / "1bb.png")
    with pytest.raises(ImageError, match=r"1bb.png: mode is 8-bit RGBA, expected 8-bit RGB"):
        load_dataset(root)
    (root / "images" / "1bb.png").write_bytes(b"not a png at all, just text bytes")
    with pytest.raises(ImageError, match="not a PNG"):
        load_dataset(root)


def _edit_row(rows: list[list[str]], column: str, value: str) -> list[list[str]]:
    rows[1][NIPS17_COLUMNS.index(column)] = value
    return rows


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (_edit_row(rows_for(["0aa", "1bb", "2cc"]), "TrueLabel", "0"), "TrueLabel 0 is outside 1..1000"),
        (_edit_row(rows_for(["0aa", "1bb", "2cc"]), "TargetClass", "1001"), "TargetClass 1001 is outside"),
        (_edit_row(rows_for(["0aa", "1bb", "2cc"]), "TrueLabel", "n/a"), "'n/a' is not an integer"),
        ([*rows_for(["0aa", "1bb", "2cc"]), rows_for(["1bb"])[0]], "duplicate ImageId 1bb"),
        ([r[:11] for r in rows_for(["0aa", "1bb", "2cc"])], "11 fields, expected 12"),
    ],
)
def test_csv_problems_raise_one_line(make_dataset: MakeDataset, rows: list[list[str]], match: str) -> None:
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset(make_dataset(rows=rows))
    assert "\n" not in str(info.value)


def test_missing_columns(make_dataset: MakeDataset) -> None:
    header = tuple("Label" if c == "TrueLabel" else c for c in NIPS17_COLUMNS)
    with pytest.raises(DatasetError, match=r"missing column.*TrueLabel"):
        load_dataset(make_dataset(header=header))


def test_header_only_csv(make_dataset: MakeDataset) -> None:
    with pytest.raises(DatasetError, match="header but no rows"):
        load_dataset(make_dataset(ids=[], rows=[]))


def test_embedded_sample() -> None:
    ds = load_dataset(sample_dataset_dir())
    assert len(ds) == 100
    assert ds.true_labels is not None
    assert ds.target_classes is not None
    assert ds.true_labels.min() >= 1
    assert ds.true_labels.max() <= 1000
    assert ds.target_classes.min() >= 1
    assert ds.target_classes.max() <= 1000
    assert (ds.true_labels != ds.target_classes).all()
    assert ds.image_ids == sorted(ds.image_ids)
    assert ds.read_images(0, 8).shape == (8, 299, 299, 3)


def test_dev_dataset_loads(dev_dir: Path) -> None:
    ds = load_dataset(dev_dir)
    assert len(ds) == 800
    assert ds.true_labels is not None
    assert ds.target_classes is not None
    # Observed DEV ranges (docs/nips17_protocol.md §1.2) hold on the 800 we have.
    assert ds.true_labels.min() >= 2
    assert ds.true_labels.max() <= 996
    assert ds.target_classes.min() >= 1
    assert ds.target_classes.max() <= 1000
    with (dev_dir / "dev_dataset.csv").open(newline="") as f:
        quoted = [r for r in csv.DictReader(f) if "," in r["Author"]]
    assert quoted, "the DEV CSV has authors with commas"
    assert ds.rows is not None
    by_id = {r.image_id: r for r in ds.rows}
    assert all(by_id[r["ImageId"]].fields["Author"] == r["Author"] for r in quoted if r["ImageId"] in by_id)
