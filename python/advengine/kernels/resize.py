"""Resize with the arithmetic of Pillow's ``Image.resize`` (bit-exact for uint8 against Pillow 13):
``nearest``, ``bilinear``, ``bicubic`` (a = −0.5), ``lanczos`` (3 lobes), antialiased when shrinking."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from advengine import _core
from advengine.errors import ParameterError
from advengine.kernels._arrays import images_f32, images_u8, is_float32
from advengine.kernels._params import size_param

Method = Literal["nearest", "bilinear", "bicubic", "lanczos"]
METHODS: tuple[Method, ...] = ("nearest", "bilinear", "bicubic", "lanczos")
MAX_SIDE = 16_384


def _method(method: str) -> str:
    if method not in METHODS:
        raise ParameterError(f"unknown resize method {method!r}; use one of {', '.join(METHODS)}")
    return method


@overload
def resize(
    images: npt.NDArray[np.float32], size: int | tuple[int, int], method: Method = ...
) -> npt.NDArray[np.float32]: ...
@overload
def resize(
    images: npt.ArrayLike, size: int | tuple[int, int], method: Method = ...
) -> npt.NDArray[np.uint8]: ...
def resize(
    images: npt.ArrayLike, size: int | tuple[int, int], method: Method = "bilinear"
) -> npt.NDArray[np.uint8] | npt.NDArray[np.float32]:
    """Resize a ``[n, h, w, 3]`` batch to ``size`` = ``(height, width)`` (or one int for a square).

    uint8 input gives uint8 output equal to Pillow's; float32 input (any range) gives float32, as
    Pillow's mode "F" would per channel, without clipping.
    """
    h, w = size_param(size, "size", MAX_SIDE)
    m = _method(method)
    if is_float32(images):
        return _core.resize_f32(images_f32(images, "images"), h, w, m)
    return _core.resize_u8(images_u8(images, "images"), h, w, m)
