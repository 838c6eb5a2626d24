"""``advengine data verify``: every check of :func:`load_dataset` plus a full decode of every image,
with all problems listed rather than only the first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advengine.data.dataset import Dataset, Layout, resolve_layout, scan_dataset
from advengine.data.images import IMAGE_SIDE
from advengine.data.problems import Problem
from advengine.errors import AdvEngineError, ImageError
from advengine.kernels import read_png_batch

#: Images decoded per Rust call: large enough to keep both cores busy, small enough for low memory.
DECODE_BATCH = 64


@dataclass(frozen=True)
class LabelStats:
    distinct: int
    low: int
    high: int

    def to_json(self) -> dict[str, int]:
        return {"distinct": self.distinct, "min": self.low, "max": self.high}


def label_stats(values: np.ndarray[Any, Any] | None) -> LabelStats | None:
    """Distinct count and range of a label array; None without labels."""
    if values is None or values.size == 0:
        return None
    return LabelStats(int(np.unique(values).size), int(values.min()), int(values.max()))


@dataclass(frozen=True)
class VerifyReport:
    images_dir: Path | None
    csv_path: Path | None
    num_images: int
    decoded: int
    true_labels: LabelStats | None
    target_classes: LabelStats | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "images_dir": None if self.images_dir is None else str(self.images_dir),
            "csv": None if self.csv_path is None else str(self.csv_path),
            "images": self.num_images,
            "decoded": self.decoded,
            "true_labels": None if self.true_labels is None else self.true_labels.to_json(),
            "target_classes": None if self.target_classes is None else self.target_classes.to_json(),
            "problems": [p.to_json() for p in self.problems],
        }


def _decode_all(
    dataset: Dataset, skip: set[Path], on_progress: Callable[[int, int], None] | None
) -> tuple[int, list[Problem]]:
    paths = [p for p in dataset.image_paths if p.is_file() and p not in skip]
    problems: list[Problem] = []
    ok = 0
    for start in range(0, len(paths), DECODE_BATCH):
        chunk = paths[start : start + DECODE_BATCH]
        try:
            read_png_batch(chunk, strict=True, size=(IMAGE_SIDE, IMAGE_SIDE))
            ok += len(chunk)
        except ImageError:
            # The batch reports only its first bad file; decode one by one to name every one.
            for p in chunk:
                try:
                    read_png_batch([p], strict=True, size=(IMAGE_SIDE, IMAGE_SIDE))
                    ok += 1
                except ImageError as exc:
                    problems.append(Problem(ImageError, f"{exc}; re-create or re-download the image"))
        if on_progress is not None:
            on_progress(len(chunk), len(paths))
    return ok, problems


def verify_dataset(
    path: str | Path,
    *,
    csv: str | Path | None = None,
    decode: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Checks a dataset and returns every problem found. ``on_progress(n, total)`` is called after
    each decoded batch of ``n`` images out of ``total`` to decode. Never raises for a bad dataset:
    the problems are the result."""
    layout: Layout | None = None
    try:
        layout = resolve_layout(path, csv)
        scan = scan_dataset(layout)
    except AdvEngineError as exc:
        return VerifyReport(
            layout.images_dir if layout else None,
            layout.csv_path if layout else None,
            0,
            0,
            None,
            None,
            [Problem(type(exc), str(exc))],
        )
    ds = scan.dataset
    problems = list(scan.problems)
    decoded = 0
    if decode:
        # Files whose header is already wrong are not decoded again: one problem per file.
        decoded, more = _decode_all(ds, scan.bad_headers, on_progress)
        problems.extend(more)
    return VerifyReport(
        layout.images_dir,
        layout.csv_path,
        len(ds),
        decoded,
        label_stats(ds.true_labels),
        label_stats(ds.target_classes),
        problems,
    )


__all__ = ["LabelStats", "VerifyReport", "label_stats", "verify_dataset"]
