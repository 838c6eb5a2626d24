"""The input resize equals PyTorch's bilinear ``align_corners=False`` (no antialias), checked against
a direct numpy transcription of ``upsample_bilinear2d``'s index arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from advengine.errors import ParameterError, ShapeError
from advengine.models.resize import resize_bilinear


def _torch_bilinear(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """aten/src/ATen/native/UpSample.h: src = max(scale·(dst + 0.5) − 0.5, 0), x1 = min(x0 + 1, in − 1)."""

    def taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        x0 = np.floor(src).astype(int)
        x1 = np.minimum(x0 + 1, n_in - 1)
        return x0, x1, src - x0

    y0, y1, fy = taps(x.shape[2], oh)
    x0, x1, fx = taps(x.shape[3], ow)
    x64 = x.astype(np.float64)
    top = x64[:, :, y0] * (1 - fy)[:, None] + x64[:, :, y1] * fy[:, None]
    return top[:, :, :, x0] * (1 - fx) + top[:, :, :, x1] * fx


@pytest.mark.parametrize(("h", "w", "oh", "ow"), [(299, 299, 224, 224), (299, 299, 260, 260), (7, 5, 11, 3)])
def test_matches_pytorch_bilinear(h: int, w: int, oh: int, ow: int) -> None:
    x = np.random.default_rng(h * w).random((2, 3, h, w), dtype=np.float32)
    got = resize_bilinear(x, (oh, ow))
    assert got.dtype == np.float32
    assert got.shape == (2, 3, oh, ow)
    np.testing.assert_allclose(got, _torch_bilinear(x, oh, ow), atol=1e-4, rtol=0)


def test_differs_from_pillow_antialiased_bilinear() -> None:
    # Pillow widens the filter when shrinking; the reference did not, so Pillow would be the wrong choice.
    x = np.random.default_rng(1).random((1, 1, 299, 299), dtype=np.float32)
    pil = np.asarray(Image.fromarray(x[0, 0], mode="F").resize((224, 224), Image.Resampling.BILINEAR))
    ours = resize_bilinear(np.repeat(x, 3, axis=1), 224)[0, 0]
    assert np.abs(ours - pil).mean() > 0.02
    assert ours.std() > pil.std() * 1.2  # less smoothing


def test_same_size_is_a_copy() -> None:
    x = np.zeros((1, 3, 4, 4), np.float32)
    y = resize_bilinear(x, 4)
    y[0, 0, 0, 0] = 1
    assert x[0, 0, 0, 0] == 0


def test_empty_batch() -> None:
    assert resize_bilinear(np.zeros((0, 3, 9, 9), np.float32), 4).shape == (0, 3, 4, 4)


def test_bad_inputs() -> None:
    with pytest.raises(ShapeError, match="float32"):
        resize_bilinear(np.zeros((1, 3, 4, 4), np.uint8), 2)
    with pytest.raises(ShapeError, match=r"\[n, c, h, w\]"):
        resize_bilinear(np.zeros((3, 4, 4), np.float32), 2)
    with pytest.raises(ParameterError, match="positive"):
        resize_bilinear(np.zeros((1, 3, 4, 4), np.float32), 0)
