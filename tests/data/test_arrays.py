"""``advengine.data.arrays``: library users' arrays into the model contract and back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advengine.data.arrays import EPS_RULE, as_batch, like, to_numpy
from advengine.errors import ParameterError, ShapeError


def test_uint8_nhwc_round_trips_exactly() -> None:
    x = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    batch = as_batch(x)
    assert batch.pixels
    assert batch.x.shape == (2, 3, 5, 7)
    assert batch.x.dtype == np.float32
    np.testing.assert_array_equal(batch.restore(batch.x), x)


def test_float_nchw_keeps_its_dtype_and_a_single_image_its_rank() -> None:
    x = np.random.default_rng(0).random((3, 4, 4))
    batch = as_batch(x)
    assert not batch.pixels
    assert batch.single
    assert batch.x.shape == (1, 3, 4, 4)
    out = batch.restore(batch.x)
    assert out.dtype == np.float64
    assert out.shape == (3, 4, 4)


def test_eps_units_follow_the_dtype_and_the_error_says_so() -> None:
    u8 = as_batch(np.zeros((1, 2, 2, 3), np.uint8))
    f32 = as_batch(np.zeros((1, 3, 2, 2), np.float32))
    assert u8.eps(16) == pytest.approx(16 / 255)
    assert f32.eps(0.03) == pytest.approx(0.03)
    for batch, bad in ((u8, 0.5), (u8, 300), (f32, 16), (f32, -0.1), (u8, True), (u8, 0), (f32, 0.0)):
        with pytest.raises(ParameterError, match="eps is in pixels") as info:
            batch.eps(bad)
        assert EPS_RULE in str(info.value)


def test_restore_projects_onto_the_eps_ball_after_rounding() -> None:
    x = np.full((1, 2, 2, 3), 100, np.uint8)
    batch = as_batch(x)
    out = batch.restore(batch.x + 10 / 255, eps=4)
    assert int(out.max()) == 104
    f = as_batch(np.full((1, 3, 2, 2), 0.5, np.float32))
    assert float(f.restore(f.x + 0.1, eps=0.01).max()) == pytest.approx(0.51)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((1, 3, 4, 4), np.uint8), r"uint8 images must be \[n, h, w, 3\]"),
        (np.zeros((1, 4, 4, 3), np.float32), r"float images must be \[n, 3, h, w\]"),
        (np.zeros((1, 4, 4, 3), np.int32), "got dtype int32"),
        (np.full((1, 3, 2, 2), 2.0, np.float32), r"values in \[0, 1\]"),
        ("not an array", "must be an array"),
    ],
)
def test_bad_arrays_are_one_clear_error(value: object, message: str) -> None:
    with pytest.raises((ShapeError, ParameterError), match=message):
        as_batch(value)


def test_a_torch_tensor_is_read_without_copying_and_given_back_as_a_tensor() -> None:
    t = torch.rand(2, 3, 5, 5)
    batch = as_batch(t)
    np.testing.assert_array_equal(batch.x, t.numpy())
    back = batch.restore(batch.x)
    assert isinstance(back, torch.Tensor)
    assert back.dtype == torch.float32
    assert back.shape == (2, 3, 5, 5)
    assert isinstance(like(np.arange(3), t), torch.Tensor)
    assert isinstance(to_numpy(torch.arange(3)), np.ndarray)
