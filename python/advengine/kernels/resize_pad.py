"""The NIPS 2017 2nd-place input randomisation (iyswim): nearest-neighbour resize to ``rnd × rnd``
with ``rnd`` uniform in ``[min_size, max_size]``, then pad to ``out_size × out_size`` at a uniform
random ``(top, left)``.

Nearest neighbour follows TensorFlow 1 (no half-pixel centres), as the original defense:
``src = min(floor(dst · float32(in / rnd)), in − 1)`` computed in float32. Each image draws its own
parameters from its own seed with splitmix64, so a run is reproducible and independent of batching.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine import _core
from advengine.errors import ShapeError
from advengine.kernels._arrays import contiguous, images_u8
from advengine.kernels._params import int_param

MAX_SIDE = 16_384


def _seeds(seeds: npt.ArrayLike | int, n: int) -> npt.NDArray[np.uint64]:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        # One base seed: image i uses base + i, so batches of one run never share a draw.
        base = int_param(seeds, "seed", 0, 2**64 - 1)
        return (np.uint64(base) + np.arange(n, dtype=np.uint64)).astype(np.uint64)
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.shape[0] != n or arr.dtype.kind not in "iu":
        raise ShapeError(f"seeds must be one integer or {n} integers (one per image), got {arr.shape}")
    if arr.dtype.kind == "i" and (arr < 0).any():
        raise ShapeError("seeds must be non-negative")
    return np.ascontiguousarray(arr.astype(np.uint64))


def random_resize_pad(
    images: npt.ArrayLike,
    out_size: int = 331,
    min_size: int = 310,
    max_size: int = 330,
    seeds: npt.ArrayLike | int = 0,
    pad_value: int = 0,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Randomly resize and pad a uint8 ``[n, h, w, 3]`` batch.

    ``seeds``: one int per image, or one base int (image ``i`` uses ``base + i``). Returns the
    ``[n, out_size, out_size, 3]`` images and ``params``, int64 ``[n, 3]`` rows ``(rnd, top, left)``
    actually used (feed them to :func:`resize_pad` to reproduce the result). Defaults are the
    original defense's 299 → [310, 330] → 331.
    """
    x = images_u8(images, "images")
    out = int_param(out_size, "out_size", 1, MAX_SIDE)
    lo = int_param(min_size, "min_size", 1, out, "at most out_size")
    hi = int_param(max_size, "max_size", lo, out, "between min_size and out_size")
    pad = int_param(pad_value, "pad_value", 0, 255)
    return _core.random_resize_pad_u8(x, out, lo, hi, _seeds(seeds, x.shape[0]), pad)


def resize_pad(
    images: npt.ArrayLike, out_size: int, params: npt.ArrayLike, pad_value: int = 0
) -> npt.NDArray[np.uint8]:
    """Resize + pad with explicit ``params`` rows ``(rnd, top, left)``, one per image."""
    x = images_u8(images, "images")
    out = int_param(out_size, "out_size", 1, MAX_SIDE)
    p = contiguous(np.asarray(params).astype(np.int64, copy=False), np.int64, "params")
    if p.ndim != 2 or p.shape != (x.shape[0], 3):
        raise ShapeError(f"params must have shape [{x.shape[0]}, 3] (rnd, top, left), got {list(p.shape)}")
    return _core.resize_pad_u8(x, out, p, int_param(pad_value, "pad_value", 0, 255))
