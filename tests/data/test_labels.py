from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advengine.data.labels import (
    BACKGROUND,
    class_index,
    is_valid_label,
    labels_from_logits,
    tf_slim_label,
)
from advengine.errors import ParameterError, ShapeError


def test_index_to_label_is_plus_one() -> None:
    assert tf_slim_label(0) == 1
    assert tf_slim_label(999) == 1000
    assert class_index(1) == 0
    assert class_index(1000) == 999
    np.testing.assert_array_equal(tf_slim_label(np.array([0, 5, 999])), [1, 6, 1000])


@settings(max_examples=50)
@given(st.lists(st.integers(0, 999), min_size=1, max_size=20))
def test_round_trip(indices: list[int]) -> None:
    arr = np.asarray(indices)
    np.testing.assert_array_equal(class_index(tf_slim_label(arr)), arr)


@pytest.mark.parametrize("bad", [-1, 1000])
def test_index_out_of_range(bad: int) -> None:
    with pytest.raises(ParameterError, match=r"0\.\.999"):
        tf_slim_label(bad)


@pytest.mark.parametrize("bad", [BACKGROUND, 1001, -3])
def test_label_out_of_range(bad: int) -> None:
    with pytest.raises(ParameterError, match="background"):
        class_index(bad)


def test_non_integers_refused() -> None:
    with pytest.raises(ParameterError, match="integers"):
        tf_slim_label(np.array([1.0]))
    with pytest.raises(ParameterError, match="integers"):
        class_index(True)


def test_is_valid_label() -> None:
    assert [is_valid_label(v) for v in (0, 1, 1000, 1001)] == [False, True, True, False]


def test_labels_from_logits() -> None:
    logits = np.zeros((2, 1000), np.float32)
    logits[0, 0] = 1
    logits[1, 999] = 1
    np.testing.assert_array_equal(labels_from_logits(logits), [1, 1000])
    slim = np.zeros((2, 1001), np.float32)
    slim[0, 0] = 1  # background stays 0
    slim[1, 7] = 1
    np.testing.assert_array_equal(labels_from_logits(slim), [0, 7])
    with pytest.raises(ShapeError, match=r"\[n, 1000\]"):
        labels_from_logits(np.zeros((2, 10)))
