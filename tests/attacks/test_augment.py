"""Host-side warps and TI smoothing: the adjoint is exact, so gradients through them are exact."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.attacks.augment import (
    IDENTITY_THETA,
    affine_warp,
    gaussian_kernel_1d,
    projective_warp,
    random_affine,
    random_diversity,
    random_theta,
    resize_pad_warp,
    smooth_gradient,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["diversity", "affine"])
def test_adjoint_identity(seed: int, kind: str) -> None:
    # <W x, g> = <x, Wᵀ g> for random x, g: the defining property of the adjoint.
    rng = np.random.default_rng(seed)
    side = 23
    x = rng.standard_normal((2, 3, side, side)).astype(np.float32)
    g = rng.standard_normal((2, 3, side, side)).astype(np.float32)
    warp = random_diversity(2, side, 0.7, rng) if kind == "diversity" else random_affine(2, side, 0.05, rng)
    lhs = float(np.sum(warp.apply(x).astype(np.float64) * g))
    rhs = float(np.sum(x.astype(np.float64) * warp.adjoint(g, x.shape)))
    assert lhs == pytest.approx(rhs, rel=1e-4, abs=1e-3)


def test_identity_affine_is_identity() -> None:
    x = np.random.default_rng(0).random((1, 3, 9, 9)).astype(np.float32)
    warp = affine_warp(np.array([[[1.0, 0, 0], [0, 1.0, 0]]]), 9)
    np.testing.assert_allclose(warp.apply(x), x, atol=1e-6)


def test_resize_pad_places_a_shrunk_copy_on_black() -> None:
    x = np.ones((1, 3, 10, 10), np.float32)
    out = resize_pad_warp(1, 10, 6, 1, 3).apply(x)
    assert out[0, :, 1:7, 3:9].min() == 1.0
    assert out.sum() == 3 * 36


def test_translation_moves_pixels() -> None:
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = 1.0
    # Output (x, y) samples input (x + 1, y): the bright pixel moves one column left.
    out = affine_warp(np.array([[[1.0, 0, 1.0], [0, 1.0, 0]]]), 5).apply(x)
    assert out[0, 0, 2, 1] == 1.0
    assert out.sum() == 1.0


def test_ti_kernel_is_normalised_and_symmetric() -> None:
    k = gaussian_kernel_1d(15, 3.0)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k[::-1])
    g = np.zeros((1, 3, 31, 31), np.float32)
    g[0, :, 15, 15] = 1.0
    out = smooth_gradient(g, 15, 3.0)
    np.testing.assert_allclose(out[0, 0, 8:23, 8:23], np.outer(k, k), rtol=1e-5)


@pytest.mark.parametrize("size", [15, 4, 1])
def test_ti_smoothing_equals_scipy(size: int) -> None:
    """The numpy correlation (scipy is not a runtime dependency) matches scipy.ndimage, borders too."""
    from scipy.ndimage import correlate1d
    from scipy.stats import norm

    x = np.linspace(-3.0, 3.0, size)
    k = norm.pdf(x) / norm.pdf(x).sum()
    np.testing.assert_allclose(gaussian_kernel_1d(size, 3.0), k, atol=1e-15)
    g = np.random.default_rng(size).normal(size=(2, 3, 20, 17)).astype(np.float32)
    ref = correlate1d(
        correlate1d(g.astype(np.float64), k, axis=2, mode="constant"), k, axis=3, mode="constant"
    )
    np.testing.assert_allclose(smooth_gradient(g, size, 3.0), ref, atol=1e-6)


def _bilinear_at(img: np.ndarray, sx: float, sy: float) -> float:
    """The published formula for one output pixel: bilinear at (sx, sy), zero outside."""
    total = 0.0
    x0, y0 = int(np.floor(sx)), int(np.floor(sy))
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            w = (1 - abs(sx - cx)) * (1 - abs(sy - cy))
            if 0 <= cx < img.shape[1] and 0 <= cy < img.shape[0]:
                total += w * img[cy, cx]
    return total


def test_projective_warp_is_the_published_map_and_its_adjoint_is_exact() -> None:
    side = 7
    theta = np.array([[1.05, 0.03, 0.4, -0.02, 0.97, -0.3, 0.01, -0.015]])
    rng = np.random.default_rng(2)
    x = rng.random((1, 2, side, side)).astype(np.float32)
    warp = projective_warp(theta, side)
    out = warp.apply(x)
    a0, a1, a2, b0, b1, b2, c0, c1 = theta[0]
    for y in range(side):
        for xx in range(side):
            k = c0 * xx + c1 * y + 1
            sx, sy = (a0 * xx + a1 * y + a2) / k, (b0 * xx + b1 * y + b2) / k
            for ch in range(2):
                assert out[0, ch, y, xx] == pytest.approx(_bilinear_at(x[0, ch], sx, sy), abs=1e-5)
    g = rng.random(out.shape).astype(np.float32)
    lhs = float(np.sum(out.astype(np.float64) * g))
    rhs = float(np.sum(x.astype(np.float64) * warp.adjoint(g, x.shape)))
    assert lhs == pytest.approx(rhs, rel=1e-5)
    # Affine warps are the c0 = c1 = 0 case.
    affine = affine_warp(theta[:, :6].reshape(1, 2, 3), side)
    flat = projective_warp(np.concatenate([theta[:, :6], [[0.0, 0.0]]], axis=1), side)
    assert np.array_equal(affine.apply(x), flat.apply(x))


def test_random_theta_is_the_identity_plus_truncated_noise() -> None:
    th = random_theta(500, 0.02, np.random.default_rng(0))
    assert th.shape == (500, 8)
    assert np.abs(th - IDENTITY_THETA).max() <= 0.04 + 1e-12
    assert (th[:, 6:] == 0).all()  # no perspective unless asked, as the team's code
    assert np.abs(random_theta(5, 0.02, np.random.default_rng(0), perspective=1e-3)[:, 6:]).max() > 0
