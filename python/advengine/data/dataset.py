"""Loading a dataset: a NIPS 2017 dir (``images/`` + CSV), a CSV path, or a plain dir of PNGs.

Everything that can be checked without decoding pixels is checked on load (CSV shape, labels,
duplicate ids, images and rows that do not match, PNG size and mode from the header), so a bad
dataset fails before any model runs. Pixels are decoded lazily by :meth:`Dataset.read_images`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from advengine.data.images import IMAGE_SIDE
from advengine.data.metadata import (
    LABEL_COLUMNS,
    TARGET_CLASS_COLUMN,
    TRUE_LABEL_COLUMN,
    CsvRow,
    parse_label,
    read_rows,
)
from advengine.data.png_header import header_problem
from advengine.data.problems import Problem
from advengine.errors import DatasetError, ImageError, ParameterError
from advengine.kernels import read_png_batch

#: CSV looked for in a dataset dir when none is named.
DEFAULT_CSV = "dev_dataset.csv"
IMAGES_DIR = "images"


# eq=False: equality would compare label arrays elementwise and raise; identity is what is meant.
@dataclass(frozen=True, eq=False)
class Dataset:
    """Images sorted by ImageId, with TF-Slim labels when a CSV came with them."""

    image_ids: list[str]
    image_paths: list[Path]
    true_labels: npt.NDArray[np.int64] | None = None
    target_classes: npt.NDArray[np.int64] | None = None
    csv_path: Path | None = None
    #: Every CSV column of each image (URL, licence, attribution), in image order; None for plain dirs.
    rows: list[CsvRow] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def labelled(self) -> bool:
        return self.true_labels is not None

    def read_images(self, start: int = 0, stop: int | None = None) -> npt.NDArray[np.uint8]:
        """Images ``start:stop`` as uint8 ``[n, 299, 299, 3]``, decoded in parallel by the Rust codec
        (strict 8-bit RGB; a bad file raises ImageError naming it)."""
        for name, v in (("start", start), ("stop", stop)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ParameterError(f"{name} must be an integer index, got {v!r}")
        paths = self.image_paths[start:stop]
        return read_png_batch(paths, strict=True, size=(IMAGE_SIDE, IMAGE_SIDE))

    def batches(self, batch_size: int) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
        """``(start, images)`` for consecutive batches of at most ``batch_size`` images."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        for start in range(0, len(self), batch_size):
            yield start, self.read_images(start, start + batch_size)

    def take(self, indices: list[int] | range) -> Dataset:
        """The images at ``indices`` (in that order) as a Dataset."""
        idx = list(indices)
        n = len(self)
        bad = [i for i in idx if not -n <= i < n]
        if bad:
            raise ParameterError(f"index {bad[0]} is out of range for a dataset of {n} images")
        pick = np.asarray(idx, dtype=np.int64)
        return Dataset(
            image_ids=[self.image_ids[i] for i in idx],
            image_paths=[self.image_paths[i] for i in idx],
            true_labels=None if self.true_labels is None else self.true_labels[pick],
            target_classes=None if self.target_classes is None else self.target_classes[pick],
            csv_path=self.csv_path,
            rows=None if self.rows is None else [self.rows[i] for i in idx],
        )

    def head(self, n: int) -> Dataset:
        """The first ``n`` images (all of them if there are fewer)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError(f"n must be a non-negative integer, got {n!r}")
        return self.take(range(min(n, len(self))))


@dataclass(frozen=True)
class Layout:
    """Where a dataset's images and CSV are."""

    images_dir: Path
    csv_path: Path | None


def resolve_layout(path: str | Path, csv: str | Path | None = None) -> Layout:
    """Finds the images dir and the CSV for ``path`` (see :func:`load_dataset`)."""
    p = Path(path)
    c = None if csv is None else Path(csv)
    if c is not None and not c.is_file():
        raise DatasetError(f"{c}: CSV file not found")
    if p.is_file():
        if p.suffix.lower() != ".csv" or c is not None:
            raise DatasetError(f"{p} is a file; pass a dataset dir, a dir of <ImageId>.png, or the CSV")
        sub = p.parent / IMAGES_DIR
        return Layout(sub if sub.is_dir() else p.parent, p)
    if not p.is_dir():
        raise DatasetError(
            f"{p} does not exist; pass a NIPS17 dataset dir (images/ + {DEFAULT_CSV}), "
            "a dir of <ImageId>.png, or the CSV"
        )
    sub = p / IMAGES_DIR
    images_dir = sub if sub.is_dir() else p
    if c is not None:
        return Layout(images_dir, c)
    if (p / DEFAULT_CSV).is_file():
        return Layout(images_dir, p / DEFAULT_CSV)
    if not sub.is_dir():
        return Layout(p, None)  # a plain dir of <ImageId>.png
    csvs = sorted(q for q in p.glob("*.csv") if q.is_file())
    if len(csvs) == 1:
        return Layout(images_dir, csvs[0])
    if not csvs:
        raise DatasetError(f"{p} has images/ but no CSV; add {DEFAULT_CSV} or pass the CSV (--csv)")
    names = ", ".join(q.name for q in csvs)
    raise DatasetError(f"{p} has several CSV files ({names}); pass the one to use (--csv)")


def _png_files(images_dir: Path) -> dict[str, Path]:
    try:
        entries = list(images_dir.iterdir())
    except OSError as exc:
        raise DatasetError(f"{images_dir}: cannot list the image dir ({exc.strerror or exc})") from None
    # Hidden files are skipped: they include the temporary files of interrupted atomic writes.
    return {
        q.stem: q for q in entries if q.suffix == ".png" and not q.name.startswith(".") and not q.is_dir()
    }


@dataclass
class Scan:
    """What a pass over a dataset found: the usable images and every problem."""

    layout: Layout
    dataset: Dataset
    problems: list[Problem]
    #: Images whose header already failed (wrong size, mode, or not a PNG).
    bad_headers: set[Path] = field(default_factory=set)


def scan_dataset(layout: Layout, *, check_headers: bool = True) -> Scan:
    """Builds the Dataset of ``layout`` and lists its problems instead of raising them. Fatal
    problems (no CSV header, no images dir) still raise DatasetError."""
    problems: list[Problem] = []
    bad_headers: set[Path] = set()
    files = _png_files(layout.images_dir)
    if layout.csv_path is None:
        ids = sorted(files)
        if not ids:
            raise DatasetError(f"{layout.images_dir}: no .png images found; expected <ImageId>.png files")
        dataset = Dataset(ids, [files[i] for i in ids])
    else:
        dataset = _labelled(layout, files, problems)
    if check_headers:
        for p in dataset.image_paths:
            if not p.is_file():
                continue  # already reported as a missing image
            try:
                why = header_problem(p, IMAGE_SIDE)
            except ImageError as exc:
                why = str(exc)
            if why:
                problems.append(Problem(ImageError, why))
                bad_headers.add(p)
    return Scan(layout, dataset, problems, bad_headers)


def _labelled(layout: Layout, files: dict[str, Path], problems: list[Problem]) -> Dataset:
    csv_path = layout.csv_path
    assert csv_path is not None
    rows = read_rows(csv_path, LABEL_COLUMNS, problems)
    if not rows and not problems:
        raise DatasetError(f"{csv_path}: the CSV has a header but no rows")
    kept: list[tuple[CsvRow, int, int]] = []
    for row in rows:
        true = parse_label(csv_path, row, TRUE_LABEL_COLUMN, problems)
        target = parse_label(csv_path, row, TARGET_CLASS_COLUMN, problems)
        if row.image_id not in files:
            problems.append(
                Problem(
                    ImageError,
                    f"{layout.images_dir / (row.image_id + '.png')}: image is missing "
                    f"(listed on line {row.line} of {csv_path.name}); restore it or run "
                    "`advengine data download`",
                )
            )
        elif true is not None and target is not None:
            kept.append((row, true, target))
    listed = {row.image_id for row in rows}
    for stem in sorted(set(files) - listed):
        problems.append(
            Problem(
                DatasetError,
                f"{files[stem]}: image has no row in {csv_path}; add its row or remove the file",
            )
        )
    kept.sort(key=lambda k: k[0].image_id)
    return Dataset(
        image_ids=[r.image_id for r, _, _ in kept],
        image_paths=[files[r.image_id] for r, _, _ in kept],
        true_labels=np.asarray([t for _, t, _ in kept], dtype=np.int64),
        target_classes=np.asarray([g for _, _, g in kept], dtype=np.int64),
        csv_path=csv_path,
        rows=[r for r, _, _ in kept],
    )


def load_dataset(path: str | Path, *, csv: str | Path | None = None) -> Dataset:
    """Loads a dataset and checks it without decoding pixels; the first problem is raised.

    ``path`` is a NIPS 2017 dir (``images/`` + ``dev_dataset.csv`` or its only ``*.csv``), a dir of
    ``<ImageId>.png`` (with labels if ``dev_dataset.csv`` sits beside them, otherwise without), or
    the CSV itself (images in ``images/`` beside it, else beside it). ``csv`` names the CSV for a
    dir explicitly, e.g. the one a download started from.
    """
    scan = scan_dataset(resolve_layout(path, csv))
    if scan.problems:
        raise scan.problems[0].exception()
    return scan.dataset


__all__ = ["DEFAULT_CSV", "Dataset", "Layout", "Scan", "load_dataset", "resolve_layout", "scan_dataset"]
