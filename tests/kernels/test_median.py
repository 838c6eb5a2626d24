"""Median filter: equal to scipy.ndimage.median_filter(size=(1, k, k, 1), mode="reflect")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from advengine import kernels
from advengine.errors import ParameterError, ShapeError

batches = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 3), st.integers(1, 14), st.integers(1, 14), st.just(3)),
)


def reference(x: np.ndarray, k: int) -> np.ndarray:
    return ndimage.median_filter(x, size=(1, k, k, 1), mode="reflect")


@settings(max_examples=60)
@given(batches, st.sampled_from([2, 3, 4, 5]))
def test_equals_scipy(x: np.ndarray, k: int) -> None:
    np.testing.assert_array_equal(kernels.median_filter(x, k), reference(x, k))


def test_equals_scipy_on_a_competition_sized_batch() -> None:
    x = np.random.default_rng(0).integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    for k in (2, 3, 7):
        np.testing.assert_array_equal(kernels.median_filter(x, k), reference(x, k))


def test_two_by_two_takes_upper_middle_of_up_left_window() -> None:
    x = np.array([[1, 2], [3, 4]], np.uint8)[None, :, :, None].repeat(3, axis=3)
    out = kernels.median_filter(x, 2)
    assert out[0, 1, 1, 0] == 3  # window {1, 2, 3, 4}: upper middle, no averaging
    assert out[0, 0, 0, 0] == 1  # window is the pixel itself, reflected


def test_size_one_is_identity_and_views_are_accepted() -> None:
    x = np.random.default_rng(1).integers(0, 256, (2, 9, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(kernels.median_filter(x, 1), x)
    view = x[:, ::2]
    np.testing.assert_array_equal(kernels.median_filter(view, 3), reference(view, 3))


@pytest.mark.parametrize("size", [0, -1, 256, 2.5, True])
def test_bad_size(size: object) -> None:
    with pytest.raises(ParameterError, match="median filter size"):
        kernels.median_filter(np.zeros((1, 4, 4, 3), np.uint8), size)  # type: ignore[arg-type]


def test_bad_arrays() -> None:
    with pytest.raises(ShapeError, match=r"\[n, h, w, 3\]"):
        kernels.median_filter(np.zeros((4, 4, 3), np.uint8), 3)
    with pytest.raises(ShapeError, match="dtype uint8"):
        kernels.median_filter(np.zeros((1, 4, 4, 3), np.float32), 3)
