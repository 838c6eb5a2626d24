"""The final Defense.__call__ validates what classify() returns."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.defenses import Defense
from advengine.errors import ShapeError
from advengine.params import Params
from advengine.types import ImagesU8, Labels


class Constant(Defense[Params]):
    def __init__(self, value: object) -> None:
        super().__init__(Params(), name="constant")
        self.value = value

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return self.value  # type: ignore[return-value]


def test_valid_labels_pass() -> None:
    x = np.zeros((2, 4, 4, 3), np.uint8)
    np.testing.assert_array_equal(Constant(np.array([1, 1000]))(x), [1, 1000])


@pytest.mark.parametrize(
    "value", [np.array([1]), np.array([1.0, 2.0]), np.array([-1, 3]), np.array([1, 1001])]
)
def test_bad_labels_fail(value: np.ndarray) -> None:
    with pytest.raises(ShapeError):
        Constant(value)(np.zeros((2, 4, 4, 3), np.uint8))
