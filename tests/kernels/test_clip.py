"""The organiser's projection: hypothesis properties against the NIPS17 numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advengine import kernels
from advengine.errors import ParameterError, ShapeError

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=9)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    shape = draw(shapes)
    adv = draw(hnp.arrays(np.uint8, shape))
    clean = draw(hnp.arrays(np.uint8, shape))
    eps = draw(st.integers(0, 255))
    return adv, clean, eps


def reference(adv: np.ndarray, clean: np.ndarray, eps: int) -> np.ndarray:
    """The NIPS 2017 harness: int32 arithmetic, then back to uint8."""
    c = clean.astype(np.int32)
    return np.clip(adv.astype(np.int32), np.maximum(c - eps, 0), np.minimum(c + eps, 255)).astype(np.uint8)


@given(pairs())
def test_output_in_box(p: tuple[np.ndarray, np.ndarray, int]) -> None:
    adv, clean, eps = p
    out = kernels.clip_linf(adv, clean, eps)
    diff = np.abs(out.astype(np.int32) - clean.astype(np.int32))
    assert out.dtype == np.uint8
    assert out.shape == adv.shape
    assert int(diff.max(initial=0)) <= eps


@given(pairs())
def test_idempotent(p: tuple[np.ndarray, np.ndarray, int]) -> None:
    adv, clean, eps = p
    once = kernels.clip_linf(adv, clean, eps)
    np.testing.assert_array_equal(kernels.clip_linf(once, clean, eps), once)


@given(pairs())
def test_equals_numpy_reference(p: tuple[np.ndarray, np.ndarray, int]) -> None:
    adv, clean, eps = p
    np.testing.assert_array_equal(kernels.clip_linf(adv, clean, eps), reference(adv, clean, eps))


@given(pairs())
def test_nearest_point_in_box(p: tuple[np.ndarray, np.ndarray, int]) -> None:
    """Each value moves to the nearest admissible value: no other point of the box is closer."""
    adv, clean, eps = p
    out = kernels.clip_linf(adv, clean, eps).astype(np.int32)
    a, c = adv.astype(np.int32), clean.astype(np.int32)
    lo, hi = np.maximum(c - eps, 0), np.minimum(c + eps, 255)
    dist = np.abs(out - a)
    assert np.all(dist == np.maximum(np.maximum(lo - a, 0), np.maximum(a - hi, 0)))


@given(pairs())
def test_inplace_matches_copy(p: tuple[np.ndarray, np.ndarray, int]) -> None:
    adv, clean, eps = p
    expected = kernels.clip_linf(adv, clean, eps)
    work = adv.copy()
    assert kernels.clip_linf(work, clean, eps, out=work) is work
    np.testing.assert_array_equal(work, expected)


def test_non_contiguous_views_are_accepted() -> None:
    rng = np.random.default_rng(0)
    adv = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    clean = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    view_a, view_c = adv[:, ::2], clean[:, ::2]
    np.testing.assert_array_equal(kernels.clip_linf(view_a, view_c, 5), reference(view_a, view_c, 5))


@pytest.mark.parametrize("eps", [-1, 256, 3.5, True, "4"])
def test_bad_eps(eps: object) -> None:
    a = np.zeros((2, 2), np.uint8)
    with pytest.raises(ParameterError, match="eps must be an integer"):
        kernels.clip_linf(a, a, eps)  # type: ignore[arg-type]


def test_shape_and_dtype_errors() -> None:
    with pytest.raises(ShapeError, match="differs"):
        kernels.clip_linf(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8), 1)
    with pytest.raises(ShapeError, match="dtype uint8"):
        kernels.clip_linf(np.zeros(3, np.float32), np.zeros(3, np.uint8), 1)


@given(
    hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-2, 2, width=32) | st.just(np.nan)),
    st.floats(0, 1, width=32),
)
def test_float_variant(adv: np.ndarray, eps: float) -> None:
    clean = np.clip(np.nan_to_num(adv, nan=0.5) * 0.5 + 0.25, 0, 1).astype(np.float32)
    work = adv.copy()
    kernels.clip_linf_f32(work, clean, eps)
    assert not np.isnan(work).any()
    assert np.all(work >= np.maximum(clean - np.float32(eps), 0))
    assert np.all(work <= np.minimum(clean + np.float32(eps), 1))
