"""Host-side differentiable input transformations for gradient attacks (DI, EOT) and TI smoothing.

A :class:`Warp` is a linear map of images: every output pixel is a weighted sum of up to four input
pixels of the same channel (nearest: one, bilinear: four, padding: none). Its adjoint scatters the
output gradient back with ``np.bincount``, so the gradient of the model at the warped image becomes
the gradient at the original image exactly (chain rule through a linear map) without putting the
random transformation into the ONNX graph: one compiled graph serves every random draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Warp:
    """Per image: ``idx`` [n, k, H·W] source pixel indices and ``w`` [n, k, H·W] weights."""

    idx: npt.NDArray[np.int64]
    w: F32
    side: int

    def apply(self, x: F32) -> F32:
        n, c, h, wd = x.shape
        flat = x.reshape(n, c, h * wd)
        out = np.zeros_like(flat)
        for i in range(n):
            for k in range(self.idx.shape[1]):
                out[i] += flat[i][:, self.idx[i, k]] * self.w[i, k]
        return out.reshape(n, c, self.side, self.side)

    def adjoint(self, g: F32, shape: tuple[int, ...]) -> F32:
        n, c, h, wd = shape
        flat = g.reshape(n, c, -1)
        out = np.zeros((n, c, h * wd), np.float64)
        for i in range(n):
            for ch in range(c):
                for k in range(self.idx.shape[1]):
                    out[i, ch] += np.bincount(
                        self.idx[i, k], weights=flat[i, ch] * self.w[i, k], minlength=h * wd
                    )
        return out.reshape(shape).astype(np.float32)


def resize_pad_warp(n: int, side: int, size: int, top: int, left: int) -> Warp:
    """Nearest-neighbour resize ``side``→``size`` placed at (top, left) on a ``side``² canvas of zeros
    (black), the same draw for the whole batch as in the DI reference."""
    ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    inside = (ys >= top) & (ys < top + size) & (xs >= left) & (xs < left + size)
    # Nearest source pixel of a size→side resize, half-pixel centres (as TF's nearest resize).
    sy = np.clip(((ys - top) * side) // size, 0, side - 1)
    sx = np.clip(((xs - left) * side) // size, 0, side - 1)
    idx = (sy * side + sx).reshape(1, 1, -1)
    w = inside.astype(np.float32).reshape(1, 1, -1)
    return Warp(np.repeat(idx, n, axis=0), np.repeat(w, n, axis=0), side)


def random_diversity(n: int, side: int, low: float, rng: np.random.Generator) -> Warp:
    """DI: shrink to rnd ∈ [⌊low·side⌋, side) and pad back to ``side`` at a random offset."""
    size = int(rng.integers(int(low * side), side))
    top = int(rng.integers(0, side - size + 1))
    left = int(rng.integers(0, side - size + 1))
    return resize_pad_warp(n, side, size, top, left)


def projective_warp(thetas: npt.NDArray[np.float64], side: int) -> Warp:
    """Bilinear warp with per-image projective parameters θ = (a0, a1, a2, b0, b1, b2, c0, c1), as
    ``tf.contrib.image.transform``: output pixel (x, y) reads the input at
    ((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k) with k = c0·x + c1·y + 1, origin at the top-left
    pixel, zero fill outside. An affine warp is c0 = c1 = 0."""
    n = len(thetas)
    grid_y, grid_x = np.meshgrid(
        np.arange(side, dtype=np.float64), np.arange(side, dtype=np.float64), indexing="ij"
    )
    xs, ys = grid_x.ravel(), grid_y.ravel()
    idx = np.zeros((n, 4, side * side), np.int64)
    w = np.zeros((n, 4, side * side), np.float32)
    for i, (a0, a1, a2, b0, b1, b2, c0, c1) in enumerate(np.asarray(thetas, np.float64)):
        k = c0 * xs + c1 * ys + 1.0
        sx = (a0 * xs + a1 * ys + a2) / k
        sy = (b0 * xs + b1 * ys + b2) / k
        x0, y0 = np.floor(sx), np.floor(sy)
        fx, fy = sx - x0, sy - y0
        corners = ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy))
        for j, (dy, dx, wk) in enumerate(corners):
            cy, cx = y0 + dy, x0 + dx
            ok = (cy >= 0) & (cy < side) & (cx >= 0) & (cx < side) & (k > 0)
            idx[i, j] = np.where(ok, cy * side + cx, 0).astype(np.int64)
            w[i, j] = np.where(ok, wk, 0.0)
    return Warp(idx, w, side)


def affine_warp(mats: npt.NDArray[np.float64], side: int) -> Warp:
    """:func:`projective_warp` with per-image 2×3 matrices (c0 = c1 = 0)."""
    flat = np.asarray(mats, np.float64).reshape(len(mats), 6)
    return projective_warp(np.concatenate([flat, np.zeros((len(mats), 2))], axis=1), side)


#: The identity θ of :func:`projective_warp`.
IDENTITY_THETA = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def random_theta(
    n: int, sigma: float, rng: np.random.Generator, perspective: float = 0.0
) -> npt.NDArray[np.float64]:
    """Sangxia Huang's draw, one θ ∈ ℝ⁸ per image: the identity plus truncated-normal noise (cut at
    ±2σ, as ``tf.truncated_normal``) of scale ``sigma`` on the six affine entries and ``perspective`` on
    c0, c1 (the team's code keeps those at 0)."""
    scales = np.array([sigma] * 6 + [perspective] * 2)
    noise = np.clip(rng.normal(0.0, 1.0, size=(n, 8)), -2.0, 2.0) * scales
    out: npt.NDArray[np.float64] = IDENTITY_THETA + noise
    return out


def random_affine(n: int, side: int, sigma: float, rng: np.random.Generator) -> Warp:
    """A random :func:`random_theta` warp without perspective."""
    return projective_warp(random_theta(n, sigma, rng), side)


def gaussian_kernel_1d(size: int, nsig: float) -> npt.NDArray[np.float64]:
    """The 1-D factor of TI's ``gkern(size, nsig)`` (its 2-D kernel is the normalised outer product)."""
    x = np.linspace(-nsig, nsig, size)
    k = np.exp(-0.5 * x * x)  # the normal density up to a constant, which the normalisation removes
    out: npt.NDArray[np.float64] = k / k.sum()
    return out


def _correlate_zero(
    x: npt.NDArray[np.float64], k: npt.NDArray[np.float64], axis: int
) -> npt.NDArray[np.float64]:
    """``scipy.ndimage.correlate1d(x, k, axis, mode="constant", cval=0)`` in numpy (scipy is a dev
    dependency only): ``out[i] = Σ_j k[j]·x[i + j − len(k)//2]`` with zeros outside."""
    before = len(k) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (before, len(k) - 1 - before)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad), len(k), axis=axis)
    out: npt.NDArray[np.float64] = windows @ k
    return out


def smooth_gradient(g: F32, size: int, nsig: float) -> F32:
    """TI: depthwise convolution of the gradient with the Gaussian kernel, zero padding ('SAME')."""
    k = gaussian_kernel_1d(size, nsig)
    out = _correlate_zero(g.astype(np.float64), k, axis=2)
    out = _correlate_zero(out, k, axis=3)
    return np.asarray(out, np.float32)


__all__ = [
    "IDENTITY_THETA",
    "Warp",
    "affine_warp",
    "gaussian_kernel_1d",
    "projective_warp",
    "random_affine",
    "random_diversity",
    "random_theta",
    "resize_pad_warp",
    "smooth_gradient",
]
