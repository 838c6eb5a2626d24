"""The organiser's L∞ projection (NIPS 2017 §2.6 step 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from advengine import _core
from advengine.errors import ParameterError
from advengine.kernels._arrays import contiguous


def _eps_u8(eps: Any) -> int:
    if isinstance(eps, bool) or not isinstance(eps, int | np.integer) or not 0 <= int(eps) <= 255:
        raise ParameterError(f"eps must be an integer in 0..255 (pixel units), got {eps!r}")
    return int(eps)


def clip_linf(
    adv: npt.ArrayLike, clean: npt.ArrayLike, eps: int, *, out: npt.NDArray[np.uint8] | None = None
) -> npt.NDArray[np.uint8]:
    """Clip ``adv`` into ``[max(0, clean − eps), min(255, clean + eps)]`` elementwise.

    Both arrays are uint8 of the same shape (any rank; NHWC batches in practice). With ``out=adv``
    the projection happens in place and ``out`` is returned.
    """
    e = _eps_u8(eps)
    c = contiguous(clean, np.uint8, "clean")
    if out is not None:
        if not (out.flags.c_contiguous and out.dtype == np.uint8):
            raise ParameterError("out must be a C-contiguous uint8 array")
        if out is not adv:
            np.copyto(out, contiguous(adv, np.uint8, "adv"))
        _core.clip_linf_u8_inplace(out, c, e)
        return out
    return _core.clip_linf_u8(contiguous(adv, np.uint8, "adv"), c, e)


def clip_linf_f32(
    adv: npt.NDArray[np.float32], clean: npt.ArrayLike, eps: float, lo: float = 0.0, hi: float = 1.0
) -> npt.NDArray[np.float32]:
    """Project float32 ``adv`` in place onto ``[clean − eps, clean + eps] ∩ [lo, hi]``; NaN → clean."""
    if not (isinstance(adv, np.ndarray) and adv.dtype == np.float32 and adv.flags.c_contiguous):
        raise ParameterError("adv must be a C-contiguous float32 array (it is clipped in place)")
    _core.clip_linf_f32_inplace(adv, contiguous(clean, np.float32, "clean"), float(eps), lo, hi)
    return adv
