"""Gather with constant indices, Expand, Tile, Where, and variadic Min/Max/Mean against float64 finite
differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_vjp, make_model, rand


def _i(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


@settings(max_examples=12, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    axis=st.integers(0, 3),
    scalar=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gather_with_constant_indices(shape: tuple[int, ...], axis: int, scalar: bool, seed: int) -> None:
    """Class-token picks (a scalar index), negative and repeated indices, any axis."""
    rng = np.random.default_rng(seed)
    full = (2, *shape)
    axis = 1 + axis % len(shape)  # never the batch axis: the logits must keep it
    d = full[axis]
    idx = (
        np.array(-1 if d > 1 else 0, np.int64)
        if scalar
        else rng.integers(-d, d, size=(2, 3)).astype(np.int64)
    )
    node = helper.make_node("Gather", ["input", "idx"], ["y"], axis=axis)
    x = rand(rng, *full)
    check_vjp(make_model([node], full, {"idx": idx}), x, directions=1, rng=rng)


def test_gather_indices_from_a_shape_subgraph() -> None:
    """Indices computed from the input's shape are folded to constants for the compiled batch."""
    nodes = [
        helper.make_node("Shape", ["input"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["c"], axis=0),
        helper.make_node("Sub", ["c", "one"], ["last"]),
        helper.make_node("Gather", ["input", "last"], ["y"], axis=1),
    ]
    x = rand(np.random.default_rng(0), 2, 5, 3)
    check_vjp(make_model(nodes, ("N", 5, 3), {"one": np.array(1, np.int64)}), x)


@pytest.mark.parametrize(
    ("nodes", "inits", "shape"),
    [
        ([helper.make_node("Expand", ["input", "s"], ["y"])], {"s": _i(2, 4, 1)}, (2, 1, 2)),
        ([helper.make_node("Tile", ["input", "r"], ["y"])], {"r": _i(1, 3, 2)}, (2, 2, 3)),
        (
            [
                helper.make_node("Greater", ["input", "z"], ["c"]),
                helper.make_node("Where", ["c", "input", "k"], ["y"]),
            ],
            {"z": np.array(0.2, np.float32), "k": np.full((1, 3), 0.5, np.float32)},
            (2, 4, 3),
        ),
        (
            [
                helper.make_node("Equal", ["m", "mz"], ["c"]),
                helper.make_node("Where", ["c", "k", "input"], ["y"]),
            ],
            {"m": _i(0, 1, 0), "mz": _i(0), "k": np.array(-1.0, np.float32)},
            (2, 3),
        ),
        (
            [
                helper.make_node("Sigmoid", ["input"], ["s"]),
                helper.make_node("Max", ["input", "s", "k"], ["y"]),
            ],
            {"k": np.array([0.1, -0.3, 0.7], np.float32)},
            (2, 4, 3),
        ),
        (
            [helper.make_node("Sigmoid", ["input"], ["s"]), helper.make_node("Min", ["input", "s"], ["y"])],
            {},
            (2, 4, 3),
        ),
        (
            [
                helper.make_node("Tanh", ["input"], ["s"]),
                helper.make_node("Mean", ["input", "s", "k"], ["y"]),
            ],
            {"k": np.ones((1, 3), np.float32)},
            (2, 4, 3),
        ),
    ],
    ids=["expand", "tile", "where-data-cond", "where-equal-cond", "max3", "min2", "mean3"],
)
def test_selection_op(nodes: list[object], inits: dict[str, np.ndarray], shape: tuple[int, ...]) -> None:
    x = rand(np.random.default_rng(1), *shape)
    check_vjp(make_model(nodes, shape, inits), x, directions=3)  # type: ignore[arg-type]


def test_max_ties_share_the_gradient() -> None:
    """Max(x, x) at equal operands: each operand gets half, so the total is exactly dy."""
    model = make_model([helper.make_node("Max", ["input", "input"], ["y"])], (1, 3), {})
    from ..conftest import seed_grad

    seed = np.array([[1.0, 2.0, 3.0]], np.float32)
    _, grad = seed_grad(model, np.zeros((1, 3), np.float32), seed)
    np.testing.assert_allclose(grad, seed)
