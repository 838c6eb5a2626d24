"""Top-1 accuracy of a classifier on a labelled dataset, the way the reference figures were measured:
uint8 images -> float [0, 1] -> bilinear resize to the native size -> argmax + 1 vs ``TrueLabel``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advengine.data import load_dataset, to_model_input
from advengine.errors import DatasetError, ParameterError
from advengine.models.classifier import OnnxClassifier


@dataclass(frozen=True)
class AccuracyReport:
    model: str
    images: int
    correct: int
    accuracy: float
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_accuracy(
    clf: OnnxClassifier,
    data: str | Path,
    *,
    limit: int | None = None,
    batch_size: int = 50,
    on_batch: Callable[[int], None] | None = None,
) -> AccuracyReport:
    """Top-1 of ``clf`` on the first ``limit`` images of a labelled dataset dir (all by default).
    ``on_batch(n)`` is called after each batch of ``n`` images (progress bars)."""
    if batch_size < 1:
        raise ParameterError(f"batch size must be at least 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ParameterError(f"limit must be at least 1, got {limit}")
    ds = load_dataset(data)
    if ds.true_labels is None:
        raise DatasetError(f"{data} has no labels (no dev_dataset.csv); accuracy needs a labelled dataset")
    if limit is not None:
        ds = ds.head(min(limit, len(ds)))
    assert ds.true_labels is not None
    correct = 0
    start = time.perf_counter()
    for first in range(0, len(ds), batch_size):
        images = ds.read_images(first, first + batch_size)
        labels = clf.predict(clf.prepare(to_model_input(images)), batch_size=batch_size)
        correct += int(np.sum(labels == ds.true_labels[first : first + len(images)]))
        if on_batch is not None:
            on_batch(len(images))
    seconds = time.perf_counter() - start
    n = len(ds)
    return AccuracyReport(
        clf.name, n, correct, correct / n if n else 0.0, seconds, n / seconds if seconds else 0.0
    )


__all__ = ["AccuracyReport", "measure_accuracy"]
