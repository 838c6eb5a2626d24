"""The one place where file pixels become model inputs and back.

Files, submissions and kernels hold ``uint8`` NHWC RGB in 0..255; models, attacks and defenses take
``float32`` NCHW in [0, 1] (docs/architecture.md, "Array contract").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.errors import ParameterError, ShapeError

#: Side of every competition image (NIPS 2017: 299×299 RGB).
IMAGE_SIDE = 299


def to_model_input(images: Any) -> npt.NDArray[np.float32]:
    """``uint8 [n, h, w, 3]`` → ``float32 [n, 3, h, w]`` in [0, 1] (value / 255)."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ShapeError(f"images must be uint8 (0..255), got dtype {arr.dtype.name}")
    if arr.ndim != 4 or arr.shape[3] != 3:
        raise ShapeError(f"images must have shape [n, h, w, 3] (NHWC RGB), got {list(arr.shape)}")
    n, h, w, _ = arr.shape
    out = np.empty((n, 3, h, w), dtype=np.float32)
    # Division (not multiplication by 1/255) so every value is the correctly rounded k/255 and the
    # round trip through from_model_output is exact.
    np.divide(arr.transpose(0, 3, 1, 2), np.float32(255), out=out, dtype=np.float32)
    return out


def from_model_output(x: Any) -> npt.NDArray[np.uint8]:
    """``float [n, 3, h, w]`` in [0, 1] → ``uint8 [n, h, w, 3]``: scaled by 255, rounded half to
    even, clipped to 0..255. NaN has no pixel value and is refused."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(f"model output must be float32 in [0, 1], got dtype {arr.dtype.name}")
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ShapeError(f"model output must have shape [n, 3, h, w] (NCHW), got {list(arr.shape)}")
    if np.isnan(arr).any():
        raise ParameterError("model output contains NaN; it cannot be turned into pixels")
    scaled = np.rint(arr.astype(np.float32, copy=False) * np.float32(255))
    np.clip(scaled, 0, 255, out=scaled)
    return np.ascontiguousarray(scaled.astype(np.uint8).transpose(0, 2, 3, 1))


__all__ = ["IMAGE_SIDE", "from_model_output", "to_model_input"]
