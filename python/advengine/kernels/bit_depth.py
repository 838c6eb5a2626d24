"""Bit-depth reduction (feature squeezing): keep ``bits`` bits per channel.

uint8: ``round(round(x · L / 255) · 255 / L)`` with ``L = 2^bits − 1``; neither quotient can fall
exactly on .5 (255 and L are odd), so the rounding rule does not matter. float32 in [0, 1]:
``rint(x · L) / L`` (round half to even), EvadeML-Zoo's formula.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

from advengine import _core
from advengine.kernels._arrays import contiguous, is_float32
from advengine.kernels._params import int_param


@overload
def bit_depth(images: npt.NDArray[np.float32], bits: int) -> npt.NDArray[np.float32]: ...
@overload
def bit_depth(images: npt.ArrayLike, bits: int) -> npt.NDArray[np.uint8]: ...
def bit_depth(images: npt.ArrayLike, bits: int) -> npt.NDArray[np.uint8] | npt.NDArray[np.float32]:
    """Reduce a uint8 or float32 array (any shape) to ``bits`` (1..8) bits per value; returns a copy."""
    b = int_param(bits, "bits", 1, 8)
    if is_float32(images):
        out = np.array(images, dtype=np.float32, order="C", copy=True)
        _core.bit_depth_f32_inplace(out, b)
        return out
    return _core.bit_depth_u8(contiguous(images, np.uint8, "images"), b)
