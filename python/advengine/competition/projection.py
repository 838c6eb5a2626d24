"""What the organiser does to every attack output before a defense sees it (NIPS17 EVALINFRA §2.6):
convert to RGB, bicubic-resize to the clean size when it differs, then project onto the integer L∞
ball around the clean image (in Rust). Attacks cannot opt out, and a wrong output is repaired, not
rejected; only something that is not an image at all fails the piece.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from advengine.errors import ImageError
from advengine.kernels import clip_linf
from advengine.types import ImagesU8


def _to_rgb(item: Any, size: tuple[int, int]) -> ImagesU8:
    """One output image as uint8 [h, w, 3] of ``size`` (h, w)."""
    if isinstance(item, Image.Image):
        img = item
    else:
        arr = np.asarray(item)
        if (
            arr.dtype != np.uint8
            or arr.ndim not in (2, 3)
            or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4))
        ):
            raise ImageError(
                "attack output must be uint8 images (gray, RGB or RGBA), "
                f"got {arr.dtype.name} {list(arr.shape)}"
            )
        if arr.ndim == 3 and arr.shape[2] == 3 and arr.shape[:2] == size:
            return arr
        img = Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
    img = img.convert("RGB")
    if (img.height, img.width) != size:
        img = img.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def project_outputs(outputs: Any, clean: ImagesU8, eps: int) -> ImagesU8:
    """Repair and project an attack's outputs for the clean batch ``clean`` ([n, h, w, 3]).

    ``outputs`` is a uint8 batch of the right shape (the fast path) or a sequence of n images of
    any size/mode (arrays or PIL images)."""
    n, h, w, _ = clean.shape
    if isinstance(outputs, np.ndarray) and outputs.dtype == np.uint8 and outputs.shape == clean.shape:
        adv = np.ascontiguousarray(outputs).copy()
    else:
        try:
            items = list(outputs)
        except TypeError:
            raise ImageError(f"attack returned {type(outputs).__name__}, not a batch of images") from None
        if len(items) != n:
            raise ImageError(f"attack returned {len(items)} images for a batch of {n}")
        adv = np.stack([_to_rgb(item, (h, w)) for item in items]) if n else clean.copy()
    return clip_linf(adv, clean, int(eps), out=adv)


def outside_eps(adv: ImagesU8, clean: ImagesU8, eps: int) -> list[int]:
    """Indices of the images of ``adv`` outside the ε-ball of ``clean`` (same shape, uint8 NHWC): the
    organiser's own projection is the check, an image inside the ball is its fixed point."""
    if adv.shape != clean.shape:
        return list(range(len(adv)))
    projected = clip_linf(adv, clean, int(eps))
    differs = (projected != adv).reshape(len(adv), -1).any(axis=1)
    return [int(k) for k in np.flatnonzero(differs)]


def missing_mask(value: Any) -> npt.NDArray[np.int64] | None:
    """Indices of the images an attack piece did produce, or None when it produced all of them (a
    submission's piece may leave images out: a list with None in their place)."""
    if isinstance(value, list) and any(v is None for v in value):
        return np.array([k for k, v in enumerate(value) if v is not None], dtype=np.int64)
    return None


__all__ = ["missing_mask", "outside_eps", "project_outputs"]
