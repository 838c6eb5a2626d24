"""Resize VJP as constant interpolation matrices (linear, nearest, cubic; scales or sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..conftest import check_adjoint, check_vjp, make_model, rand


@pytest.mark.parametrize(
    ("mode", "ctm", "sizes"),
    [
        ("linear", "half_pixel", (7, 9)),
        ("linear", "align_corners", (3, 4)),
        ("linear", "asymmetric", (10, 5)),
        ("nearest", "asymmetric", (12, 15)),
        ("nearest", "half_pixel", (4, 3)),
        ("cubic", "half_pixel", (9, 7)),
    ],
)
def test_resize_with_sizes(mode: str, ctm: str, sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rand(rng, 2, 3, 6, 5)
    node = helper.make_node(
        "Resize", ["input", "", "", "sizes"], ["y"], mode=mode, coordinate_transformation_mode=ctm
    )
    model = make_model([node], x.shape, {"sizes": np.array([2, 3, *sizes], np.int64)})
    check_vjp(model, x, directions=2, rng=rng, rtol=1e-5)


@pytest.mark.parametrize("scales", [(2.0, 2.0), (0.5, 1.5), (1.0, 1.7)])
def test_resize_with_scales(scales: tuple[float, float]) -> None:
    rng = np.random.default_rng(1)
    x = rand(rng, 1, 2, 8, 6)
    node = helper.make_node("Resize", ["input", "", "scales"], ["y"], mode="linear")
    model = make_model([node], x.shape, {"scales": np.array([1.0, 1.0, *scales], np.float32)})
    check_adjoint(model, x, rng)  # Resize is linear; ORT's own forward is the oracle
