from __future__ import annotations

import re
from pathlib import Path

import pytest

from advengine.data.metadata import LABEL_COLUMNS, NIPS17_COLUMNS, parse_label, read_rows
from advengine.data.problems import Problem
from advengine.errors import DatasetError

from .conftest import rows_for, write_csv


def _read(path: Path) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    return read_rows(path, LABEL_COLUMNS, problems), problems


def test_quoted_commas_and_all_columns(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    write_csv(p, NIPS17_COLUMNS, rows_for(["a1", "b2"]))
    assert '"Smith, Jane"' in p.read_text()
    rows, problems = _read(p)
    assert problems == []
    assert [r.image_id for r in rows] == ["a1", "b2"]
    assert rows[0].fields["Author"] == "Smith, Jane"
    assert rows[0].line == 2
    assert len(rows[0].fields) == 12


def test_columns_found_by_name(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    write_csv(p, ["TargetClass", "Extra", "TrueLabel", "ImageId"], [["7", "x", "3", "abc"]])
    rows, problems = _read(p)
    assert problems == []
    assert parse_label(p, rows[0], "TrueLabel", problems) == 3
    assert parse_label(p, rows[0], "TargetClass", problems) == 7


def test_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(b"\xef\xbb\xbfImageId,TrueLabel,TargetClass\n\na,1,2\n\n")
    rows, problems = _read(p)
    assert (len(rows), problems) == (1, [])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "CSV is empty"),
        ("ImageId,URL,TargetClass\na,u,3\n", "missing column.*TrueLabel"),
        ("ImageId,TrueLabel,TrueLabel,TargetClass\n", "more than once"),
    ],
)
def test_fatal_errors(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "d.csv"
    p.write_text(text)
    with pytest.raises(DatasetError, match=match):
        _read(p)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        _read(tmp_path / "none.csv")
    p = tmp_path / "d.csv"
    p.write_bytes(b"ImageId,TrueLabel,TargetClass\n\xff\xfe,1,2\n")
    with pytest.raises(DatasetError, match="UTF-8"):
        _read(p)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("a,1,2,3", r"d.csv:3: 4 fields, expected 3; quote values"),
        ("a,1", r"d.csv:3: 2 fields, expected 3"),
        ("../etc,1,2", r"d.csv:3: ImageId '../etc' is not a valid file name"),
        (".hidden,1,2", "not a valid file name"),
        ("x0,5,6", r"d.csv:3: duplicate ImageId x0 \(first on line 2\)"),
    ],
)
def test_row_problems(tmp_path: Path, line: str, match: str) -> None:
    p = tmp_path / "d.csv"
    p.write_text(f"ImageId,TrueLabel,TargetClass\nx0,1,2\n{line}\n")
    rows, problems = _read(p)
    assert [r.image_id for r in rows] == ["x0"]
    assert len(problems) == 1
    assert problems[0].error is DatasetError
    assert problems[0].exception().args[0] == problems[0].message
    assert re.search(match, problems[0].message), problems[0].message


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("3.0", "'3.0' is not an integer"),
        ("", "'' is not an integer"),
        ("0", "TrueLabel 0 is outside 1..1000"),
        ("1001", "outside 1..1000"),
    ],
)
def test_label_problems(tmp_path: Path, value: str, match: str) -> None:
    p = tmp_path / "d.csv"
    p.write_text(f"ImageId,TrueLabel,TargetClass\nx0,{value},2\n")
    rows, problems = _read(p)
    assert parse_label(p, rows[0], "TrueLabel", problems) is None
    assert match in problems[0].message
    assert parse_label(p, rows[0], "TargetClass", problems) == 2
