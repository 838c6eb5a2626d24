from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advengine.data.images import from_model_output, to_model_input
from advengine.errors import ParameterError, ShapeError


def test_layout_and_scale() -> None:
    x = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    y = to_model_input(x)
    assert y.dtype == np.float32
    assert y.shape == (2, 3, 4, 5)
    assert y.flags.c_contiguous
    np.testing.assert_array_equal(y[1, 2, 3, 4], np.float32(x[1, 3, 4, 2]) / np.float32(255))
    assert to_model_input(np.full((1, 1, 1, 3), 255, np.uint8)).max() == 1.0


@settings(max_examples=30)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.just(3))))
def test_round_trip_is_exact(x: np.ndarray) -> None:
    back = from_model_output(to_model_input(x))
    assert back.dtype == np.uint8
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, x)


def test_rounds_half_to_even_and_clips() -> None:
    vals = np.array([0.5, 1.5, 2.5, -3.0, 300.0, 254.6], np.float32) / np.float32(255)
    x = vals.reshape(1, 3, 1, 2)
    out = from_model_output(x).transpose(0, 3, 1, 2).reshape(-1)
    np.testing.assert_array_equal(out, [0, 2, 2, 0, 255, 255])
    assert from_model_output(np.array([np.inf, -np.inf, 0], np.float32).reshape(1, 3, 1, 1)).tolist() == [
        [[[255, 0, 0]]]
    ]


def test_errors() -> None:
    with pytest.raises(ShapeError, match="uint8"):
        to_model_input(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ShapeError, match="NHWC"):
        to_model_input(np.zeros((1, 3, 2, 2), np.uint8))
    with pytest.raises(ShapeError, match="float32"):
        from_model_output(np.zeros((1, 3, 2, 2), np.uint8))
    with pytest.raises(ShapeError, match="NCHW"):
        from_model_output(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        from_model_output(np.full((1, 3, 1, 1), np.nan, np.float32))
