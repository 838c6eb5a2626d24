"""Normalisation of array arguments before they cross into Rust."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from advengine.errors import ShapeError

T = TypeVar("T", bound=np.generic)


def contiguous(a: Any, dtype: type[T], name: str) -> npt.NDArray[T]:
    """``a`` as a C-contiguous array of exactly ``dtype``; no silent value conversion."""
    arr = np.asarray(a)
    if arr.dtype != np.dtype(dtype):
        raise ShapeError(f"{name} must have dtype {np.dtype(dtype).name}, got {arr.dtype.name}")
    return np.ascontiguousarray(arr)


def images_u8(a: Any, name: str) -> npt.NDArray[np.uint8]:
    """``a`` as a contiguous uint8 ``[n, h, w, 3]`` batch."""
    arr = contiguous(a, np.uint8, name)
    if arr.ndim != 4 or arr.shape[3] != 3:
        raise ShapeError(f"{name} must have shape [n, h, w, 3], got {list(arr.shape)}")
    return arr


def images_f32(a: Any, name: str) -> npt.NDArray[np.float32]:
    """``a`` as a contiguous float32 ``[n, h, w, 3]`` batch."""
    arr = contiguous(a, np.float32, name)
    if arr.ndim != 4 or arr.shape[3] != 3:
        raise ShapeError(f"{name} must have shape [n, h, w, 3], got {list(arr.shape)}")
    return arr


def is_float32(a: Any) -> bool:
    """Whether ``a`` holds float32 values (the float variants' input), without converting it."""
    return bool(np.asarray(a).dtype == np.float32)
