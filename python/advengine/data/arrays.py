"""Arrays from library users: whatever comes in is turned into the float32 NCHW [0, 1] contract, and the
result goes back in the caller's own layout, dtype and array type.

Two layouts are accepted, told apart by dtype (docs/api.md, "Arrays"):

* ``uint8 [n, h, w, 3]`` (or one ``[h, w, 3]`` image): pixels 0..255, the file layout; ε is in pixels;
* ``float [n, 3, h, w]`` (or one ``[3, h, w]`` image) in [0, 1], the torch layout; ε is in [0, 1].

Anything with ``__dlpack__`` (a torch CPU tensor, a JAX array) or ``__array__`` is read through numpy
without advengine importing its library; a result is handed back through that library's own
``from_dlpack`` when it has one, so a tensor comes back as a tensor.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.data.images import from_model_output, to_model_input
from advengine.errors import ParameterError, ShapeError
from advengine.kernels import clip_linf

#: The one sentence on ε units, used in docstrings' spirit and in every error about ε.
EPS_RULE = "eps is in pixels (an integer 1..255) for uint8 images and in (0, 1] for float images"

F32 = npt.NDArray[np.float32]


def to_numpy(x: Any) -> npt.NDArray[Any]:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError) as exc:
            # e.g. a CUDA tensor: numpy reads host memory only.
            raise ShapeError(
                f"cannot read a {type(x).__name__} through DLPack ({exc}); move it to the CPU first"
            ) from None
    if hasattr(x, "__array__") or isinstance(x, list | tuple):
        return np.asarray(x)
    raise ShapeError(
        f"images must be an array (numpy, or anything with __dlpack__/__array__), got {type(x).__name__}"
    )


@dataclass(frozen=True)
class Batch:
    """A user batch as float32 NCHW in [0, 1] at its own size, and how to give results back."""

    #: The images, float32 [n, 3, h, w] in [0, 1].
    x: F32
    #: True for uint8 NHWC input (ε in pixels, results rounded to pixels).
    pixels: bool
    #: The input was one image without a batch axis.
    single: bool
    #: The input's float dtype (results are cast back to it), None for uint8.
    dtype: np.dtype[Any] | None
    #: The caller's array object, to hand results back as the same kind of array.
    like: Any

    @property
    def side(self) -> tuple[int, int]:
        return int(self.x.shape[2]), int(self.x.shape[3])

    def eps(self, eps: float) -> float:
        """ε in [0, 1] units, after checking it against the input's dtype. ε = 0 is refused, as in every
        command: a zero budget returns the images unchanged, which is never what an attack is run for."""
        if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
            raise ParameterError(f"{EPS_RULE}; got {eps!r}")
        if self.pixels:
            if float(eps) != int(eps) or not 1 <= eps <= 255:
                raise ParameterError(f"{EPS_RULE}; these images are uint8, got eps={eps!r}")
            return float(eps) / 255.0
        if not 0.0 < float(eps) <= 1.0:
            raise ParameterError(
                f"{EPS_RULE}; these images are float, got eps={eps!r} (did you mean {eps}/255?)"
            )
        return float(eps)

    def restore(self, out: F32, eps: float | None = None) -> Any:
        """``out`` (float32 NCHW in [0, 1], this batch's shape) in the input's layout, dtype and kind;
        with ``eps`` (the caller's units) the result is projected onto the ε ball around the input
        after any rounding to pixels, so rounding never leaves the budget."""
        arr: npt.NDArray[Any]
        if self.pixels:
            arr = from_model_output(out)
            if eps is not None:
                clip_linf(arr, from_model_output(self.x), int(eps), out=arr)
        else:
            arr = np.clip(out, 0.0, 1.0).astype(self.dtype or np.float32, copy=False)
            if eps is not None:
                arr = np.clip(arr, self.x - float(eps), self.x + float(eps)).astype(arr.dtype, copy=False)
        if self.single:
            arr = arr[0]
        return like(arr, self.like)


def like(arr: npt.NDArray[Any], original: Any) -> Any:
    """``arr`` as the same kind of array as ``original``: numpy stays numpy; a tensor of a library with
    ``from_dlpack`` (torch, JAX, CuPy) comes back through it, on the CPU."""
    if isinstance(original, np.ndarray) or not hasattr(original, "__dlpack__"):
        return arr
    module = sys.modules.get(type(original).__module__.split(".")[0])
    back = getattr(module, "from_dlpack", None)
    return back(np.ascontiguousarray(arr)) if callable(back) else arr


def as_batch(images: Any) -> Batch:
    """Read ``images`` (uint8 NHWC or float NCHW in [0, 1], one image or a batch) into a :class:`Batch`."""
    arr = to_numpy(images)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.dtype == np.uint8:
        if arr.ndim != 4 or arr.shape[3] != 3:
            raise ShapeError(
                f"uint8 images must be [n, h, w, 3] (NHWC RGB), got {list(arr.shape)}; float images are "
                "[n, 3, h, w] in [0, 1]"
            )
        return Batch(to_model_input(arr), True, single, None, images)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(
            f"images must be uint8 [n, h, w, 3] or float [n, 3, h, w] in [0, 1], got dtype {arr.dtype.name}"
        )
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ShapeError(
            f"float images must be [n, 3, h, w] (NCHW) in [0, 1], got {list(arr.shape)}; uint8 images are "
            "[n, h, w, 3]"
        )
    x = np.ascontiguousarray(arr, dtype=np.float32)
    if x.size and (np.isnan(x).any() or x.min() < 0.0 or x.max() > 1.0):
        raise ParameterError(
            "float images must hold values in [0, 1] (no NaN); divide 0..255 pixels by 255, or pass uint8"
        )
    return Batch(x, False, single, arr.dtype, images)


__all__ = ["EPS_RULE", "Batch", "as_batch", "like", "to_numpy"]
