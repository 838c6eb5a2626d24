from __future__ import annotations

from pathlib import Path

from PIL import Image

from advengine.data import verify_dataset
from advengine.errors import DatasetError, ImageError

from .conftest import MakeDataset, rows_for


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header survives; the pixel data does not


def test_clean_dataset(make_dataset: MakeDataset) -> None:
    seen: list[tuple[int, int]] = []
    report = verify_dataset(make_dataset(), on_progress=lambda n, total: seen.append((n, total)))
    assert report.ok
    assert (report.num_images, report.decoded) == (3, 3)
    assert seen == [(3, 3)]
    assert report.true_labels is not None
    assert report.target_classes is not None
    assert (report.true_labels.distinct, report.true_labels.low, report.true_labels.high) == (3, 10, 12)
    js = report.to_json()
    assert js["ok"] is True
    assert js["problems"] == []
    assert js["target_classes"] == {"distinct": 3, "min": 500, "max": 502}


def test_decode_finds_what_the_header_cannot(make_dataset: MakeDataset) -> None:
    root = make_dataset(ids=["0aa", "1bb", "2cc", "3dd"])
    _truncate(root / "images" / "1bb.png")
    _truncate(root / "images" / "3dd.png")
    assert verify_dataset(root, decode=False).ok
    report = verify_dataset(root)
    assert not report.ok
    assert report.decoded == 2
    assert [p.error for p in report.problems] == [ImageError, ImageError]
    assert "1bb.png" in report.problems[0].message
    assert "3dd.png" in report.problems[1].message


def test_all_problems_are_listed(make_dataset: MakeDataset) -> None:
    rows = rows_for(["0aa", "1bb", "9zz"])
    rows[0][6] = "0"
    root = make_dataset(ids=["0aa", "1bb", "2cc"], rows=rows)
    Image.new("L", (299, 299)).save(root / "images" / "1bb.png")
    report = verify_dataset(root)
    messages = [p.message for p in report.problems]
    assert len(messages) == 4, messages
    assert any("TrueLabel 0 is outside" in m for m in messages)
    assert any("9zz.png: image is missing" in m for m in messages)
    assert any("2cc.png: image has no row" in m for m in messages)
    assert any("1bb.png: mode is 8-bit greyscale" in m for m in messages)
    # The greyscale file is reported once (by its header), not again by the decoder.
    assert report.decoded == 0  # 0aa has a bad label, 9zz is missing, 1bb was flagged
    assert report.num_images == 1


def test_fatal_problem_becomes_the_report(tmp_path: Path) -> None:
    report = verify_dataset(tmp_path / "nothing")
    assert not report.ok
    assert report.problems[0].error is DatasetError
    assert "does not exist" in report.problems[0].message
    assert report.to_json()["images"] == 0
