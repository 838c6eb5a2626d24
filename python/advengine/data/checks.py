"""Checks of the batches that cross the attack and defense contracts: uint8 NHWC images, TF-Slim labels.

Both attacks and defenses validate their inputs with these, so they live below both (they must not
import each other).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advengine.errors import ParameterError, ShapeError
from advengine.types import ImagesU8, Labels


def check_images(images: Any, name: str = "images") -> ImagesU8:
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3:
        raise ShapeError(f"{name} must be uint8 [n, h, w, 3], got {arr.dtype.name} {list(arr.shape)}")
    return np.ascontiguousarray(arr)


def check_labels(labels: Any, n: int, name: str) -> Labels:
    arr = np.asarray(labels)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise ShapeError(f"{name} must be {n} integer labels, got {arr.dtype.name} {list(arr.shape)}")
    if n and (arr.min() < 1 or arr.max() > 1000):
        raise ParameterError(f"{name} must be TF-Slim labels in 1..1000, got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


__all__ = ["check_images", "check_labels"]
