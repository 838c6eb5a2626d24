"""Augmentation of HGD training pairs: a horizontal flip (p = 1/2) and a shift of up to ``shift``
pixels per axis with reflect padding (the image keeps its size). An adversarial image and its clean
target get the same draw, so the guide compares like with like."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advengine.errors import ShapeError

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Augment:
    """One draw for a batch: per image a flip and the (dy, dx) shift in [−shift, shift]."""

    flips: npt.NDArray[np.bool_]
    shifts: npt.NDArray[np.int64]
    shift: int

    def __call__(self, x: F32) -> F32:
        """The draw applied to float32 NCHW images (a new array)."""
        n, _, h, w = x.shape
        s = self.shift
        if len(self.flips) != n:
            raise ShapeError(f"an augmentation drawn for {len(self.flips)} images got {n}")
        if s >= min(h, w):
            raise ShapeError(f"a shift of {s} pixels needs images larger than {s}, got {h}×{w}")
        out = np.empty_like(x)
        padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), mode="reflect") if s else x
        for i in range(n):
            dy, dx = (int(v) for v in self.shifts[i])
            crop = padded[i, :, s + dy : s + dy + h, s + dx : s + dx + w]
            out[i] = crop[:, :, ::-1] if self.flips[i] else crop
        return out


def draw_augment(rng: np.random.Generator, n: int, shift: int) -> Augment:
    flips = rng.random(n) < 0.5
    shifts = rng.integers(-shift, shift + 1, size=(n, 2))
    return Augment(flips, shifts.astype(np.int64), shift)


__all__ = ["Augment", "draw_augment"]
