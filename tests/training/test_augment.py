"""Flips and reflect-padded shifts keep the size and move pixels as drawn."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.errors import ShapeError
from advengine.training.augment import Augment, draw_augment


def images(n: int = 2, side: int = 6) -> np.ndarray:
    return np.arange(n * 3 * side * side, dtype=np.float32).reshape(n, 3, side, side)


def test_no_shift_no_flip_is_the_identity() -> None:
    x = images()
    aug = Augment(np.array([False, False]), np.zeros((2, 2), np.int64), 0)
    np.testing.assert_array_equal(aug(x), x)


def test_shift_and_flip() -> None:
    x = images(1)
    down = Augment(np.array([False]), np.array([[1, 0]]), 2)(x)
    # A shift by +1 row shows rows 1..5, then the reflection of row 4.
    np.testing.assert_array_equal(down[0, :, :5], x[0, :, 1:])
    np.testing.assert_array_equal(down[0, :, 5], x[0, :, 4])
    flipped = Augment(np.array([True]), np.zeros((1, 2), np.int64), 2)(x)
    np.testing.assert_array_equal(flipped, x[..., ::-1])


def test_one_draw_moves_two_batches_alike() -> None:
    rng = np.random.default_rng(0)
    aug = draw_augment(rng, 2, 3)
    x = images()
    np.testing.assert_array_equal(aug(x) + 1, aug(x + 1))
    assert np.abs(aug.shifts).max() <= 3


def test_bad_sizes() -> None:
    with pytest.raises(ShapeError, match="drawn for 1 images got 2"):
        Augment(np.array([False]), np.zeros((1, 2), np.int64), 1)(images())
    with pytest.raises(ShapeError, match="a shift of 6 pixels"):
        Augment(np.array([False, False]), np.zeros((2, 2), np.int64), 6)(images())
