"""Reading the NIPS 2017 dataset CSV (``dev_dataset.csv`` / ``final_dataset.csv``).

Columns are found by header name, as the original toolkit does, so extra or reordered columns work.
A few ``Author`` values are quoted and contain commas, hence the csv module. Unlike the original,
which silently skipped short rows, every malformed row is a problem with its line number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from advengine.data.labels import FIRST_LABEL, LAST_LABEL
from advengine.data.problems import Problem
from advengine.errors import DatasetError

ID_COLUMN = "ImageId"
TRUE_LABEL_COLUMN = "TrueLabel"
TARGET_CLASS_COLUMN = "TargetClass"
#: The 12 columns of the original files, in their order.
NIPS17_COLUMNS = (
    "ImageId",
    "URL",
    "x1",
    "y1",
    "x2",
    "y2",
    "TrueLabel",
    "TargetClass",
    "OriginalLandingURL",
    "License",
    "Author",
    "AuthorProfileURL",
)
LABEL_COLUMNS = (ID_COLUMN, TRUE_LABEL_COLUMN, TARGET_CLASS_COLUMN)

# An ImageId becomes a file name, so it must not carry a path separator or start with a dot.
_IMAGE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")


@dataclass(frozen=True)
class CsvRow:
    """One data row: its 1-based line number and every column by header name."""

    line: int
    fields: Mapping[str, str]

    @property
    def image_id(self) -> str:
        return self.fields[ID_COLUMN]


def read_rows(path: Path, required: Sequence[str], problems: list[Problem]) -> list[CsvRow]:
    """Rows of ``path`` that have the header's field count and a usable, unique ImageId.

    Each bad row adds a problem and is left out. An unreadable file or missing columns are fatal
    (DatasetError) because no row can be trusted then.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            table = _parse(path, f, required, problems)
    except FileNotFoundError:
        raise DatasetError(f"{path}: CSV file not found; pass the dataset's dev_dataset.csv") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 text CSV ({exc.reason}); re-export it as UTF-8") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: malformed CSV ({exc}); fix the file or restore the original") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the CSV ({exc.strerror or exc})") from None
    return table


def _parse(path: Path, f: TextIO, required: Sequence[str], problems: list[Problem]) -> list[CsvRow]:
    reader = csv.reader(f)
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise DatasetError(f"{path}: the CSV is empty; it needs a header row with {', '.join(required)}")
    names = [h.strip() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} in the header "
            f"(found: {', '.join(names)}); the first row must name the columns"
        )
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        raise DatasetError(f"{path}: column(s) {', '.join(repeated)} appear more than once in the header")
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not record or all(not v.strip() for v in record):
            continue
        if len(record) != len(names):
            problems.append(
                Problem(
                    DatasetError,
                    f"{path}:{line}: {len(record)} fields, expected {len(names)}; "
                    "quote values that contain commas",
                )
            )
            continue
        fields = dict(zip(names, (v.strip() for v in record), strict=True))
        image_id = fields[ID_COLUMN]
        if not _IMAGE_ID.match(image_id):
            problems.append(
                Problem(
                    DatasetError,
                    f"{path}:{line}: ImageId {image_id!r} is not a valid file name stem "
                    "(letters, digits, _ . - ; not starting with a dot)",
                )
            )
            continue
        if image_id in seen:
            problems.append(
                Problem(
                    DatasetError,
                    f"{path}:{line}: duplicate ImageId {image_id} (first on line {seen[image_id]}); "
                    "each image must appear once",
                )
            )
            continue
        seen[image_id] = line
        rows.append(CsvRow(line, fields))
    return rows


def parse_label(path: Path, row: CsvRow, column: str, problems: list[Problem]) -> int | None:
    """The TF-Slim label in ``column`` (1..1000), or None after adding a problem."""
    raw = row.fields[column]
    if not _INTEGER.match(raw):
        problems.append(Problem(DatasetError, f"{path}:{row.line}: {column} {raw!r} is not an integer label"))
        return None
    value = int(raw)
    if not FIRST_LABEL <= value <= LAST_LABEL:
        problems.append(
            Problem(
                DatasetError,
                f"{path}:{row.line}: {column} {value} is outside {FIRST_LABEL}..{LAST_LABEL} "
                "(TF-Slim labels; 0 is background and never a dataset label)",
            )
        )
        return None
    return value


__all__ = [
    "ID_COLUMN",
    "LABEL_COLUMNS",
    "NIPS17_COLUMNS",
    "TARGET_CLASS_COLUMN",
    "TRUE_LABEL_COLUMN",
    "CsvRow",
    "parse_label",
    "read_rows",
]
