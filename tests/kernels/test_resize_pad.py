"""Random resize + pad (iyswim): equal to a numpy reference given the parameters it reports."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advengine import kernels
from advengine.errors import ParameterError, ShapeError


def reference(x: np.ndarray, out_size: int, params: np.ndarray, pad: int) -> np.ndarray:
    """TF1 nearest neighbour (float32 scale, floor, no half-pixel centres), then pad."""
    n, h, w, c = x.shape
    out = np.full((n, out_size, out_size, c), pad, np.uint8)
    for i, (rnd, top, left) in enumerate(params):
        ys = np.minimum(np.floor(np.arange(rnd, dtype=np.float32) * (np.float32(h) / np.float32(rnd))), h - 1)
        xs = np.minimum(np.floor(np.arange(rnd, dtype=np.float32) * (np.float32(w) / np.float32(rnd))), w - 1)
        out[i, top : top + rnd, left : left + rnd] = x[i][ys.astype(int)][:, xs.astype(int)]
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int, list[int], int]:
    x = draw(
        hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12), st.just(3)))
    )
    out_size = draw(st.integers(1, 24))
    lo = draw(st.integers(1, out_size))
    hi = draw(st.integers(lo, out_size))
    seeds = draw(st.lists(st.integers(0, 2**64 - 1), min_size=x.shape[0], max_size=x.shape[0]))
    return x, out_size, lo, hi, seeds, draw(st.integers(0, 255))


@settings(max_examples=100)
@given(cases())
def test_equals_numpy_reference_given_params(case: tuple[np.ndarray, int, int, int, list[int], int]) -> None:
    x, out_size, lo, hi, seeds, pad = case
    out, params = kernels.random_resize_pad(x, out_size, lo, hi, np.array(seeds, np.uint64), pad)
    assert params.dtype == np.int64
    assert params.shape == (x.shape[0], 3)
    rnd, top, left = params.T
    assert np.all((rnd >= lo) & (rnd <= hi))
    assert np.all((top >= 0) & (top <= out_size - rnd) & (left >= 0) & (left <= out_size - rnd))
    np.testing.assert_array_equal(out, reference(x, out_size, params, pad))
    np.testing.assert_array_equal(kernels.resize_pad(x, out_size, params, pad), out)


def test_defaults_are_the_original_defense_and_seeds_reproduce() -> None:
    x = np.random.default_rng(0).integers(0, 256, (64, 299, 299, 3), dtype=np.uint8)
    a, pa = kernels.random_resize_pad(x, seeds=7)
    b, pb = kernels.random_resize_pad(x, seeds=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)
    assert a.shape == (64, 331, 331, 3)
    assert set(pa[:, 0]) <= set(range(310, 331))
    assert len({tuple(p) for p in pa}) > 1  # base seed + i: images draw independently
    _, pc = kernels.random_resize_pad(x, seeds=8)
    assert not np.array_equal(pa, pc)


def test_bad_parameters() -> None:
    x = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(ParameterError, match="max_size"):
        kernels.random_resize_pad(x, 10, 5, 11)
    with pytest.raises(ParameterError, match="min_size"):
        kernels.random_resize_pad(x, 10, 0, 5)
    with pytest.raises(ShapeError, match="seeds"):
        kernels.random_resize_pad(x, 10, 5, 6, seeds=[1, 2, 3])
    with pytest.raises(ParameterError, match="does not fit"):
        kernels.resize_pad(x, 10, [[8, 3, 0], [5, 0, 0]])
    with pytest.raises(ShapeError, match="params"):
        kernels.resize_pad(x, 10, [[8, 0, 0]])
