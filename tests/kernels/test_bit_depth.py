"""Bit-depth reduction: equal to its numpy formula for uint8 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advengine import kernels
from advengine.errors import ParameterError

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=8)


def reference_u8(x: np.ndarray, bits: int) -> np.ndarray:
    levels = 2**bits - 1
    q = np.rint(x.astype(np.float64) * levels / 255)
    return np.rint(q * 255 / levels).astype(np.uint8)


@given(hnp.arrays(np.uint8, shapes), st.integers(1, 8))
def test_uint8_equals_numpy(x: np.ndarray, bits: int) -> None:
    out = kernels.bit_depth(x, bits)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, reference_u8(x, bits))
    assert len(np.unique(kernels.bit_depth(np.arange(256, dtype=np.uint8), bits))) == 2**bits


@given(hnp.arrays(np.float32, shapes, elements=st.floats(0, 1, width=32)), st.integers(1, 8))
def test_float32_equals_evademl_formula(x: np.ndarray, bits: int) -> None:
    levels = np.float32(2**bits - 1)
    expected = np.rint(x * levels) / levels
    original = x.copy()
    np.testing.assert_array_equal(kernels.bit_depth(x, bits), expected)
    np.testing.assert_array_equal(x, original)  # a copy, not in place


@pytest.mark.parametrize("bits", [0, 9, 4.0, False])
def test_bad_bits(bits: object) -> None:
    with pytest.raises(ParameterError, match="bits"):
        kernels.bit_depth(np.zeros(3, np.uint8), bits)  # type: ignore[arg-type]
