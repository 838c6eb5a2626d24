"""Broadcasting arithmetic: both operands depend on the input, with broadcast shapes on either side; a
broadcast initializer operand as a trained parameter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_param_vjp, check_vjp, make_model, rand


@st.composite
def broadcast_case(draw: st.DrawFn) -> tuple[tuple[int, ...], list[int], tuple[int, ...]]:
    """An input shape, the axes a second operand is reduced over (so it broadcasts back), and the
    shape of a broadcast constant (possibly of lower rank)."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    axes = sorted(draw(st.sets(st.integers(1, len(shape) - 1))))
    rank = draw(st.integers(1, len(shape)))
    const = tuple(d if draw(st.booleans()) else 1 for d in shape[len(shape) - rank :])
    return shape, axes, const


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@settings(max_examples=10)
@given(case=broadcast_case(), swap=st.booleans(), seed=st.integers(0, 2**16))
def test_binary_op_matches_finite_differences(
    op: str, case: tuple[tuple[int, ...], list[int], tuple[int, ...]], swap: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    shape, axes, const = case
    # r = 1.5 + sigmoid(mean over axes): image-dependent, broadcast, and safely away from 0 for Div.
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["m"], keepdims=1),
        helper.make_node("Sigmoid", ["m"], ["s"]),
        helper.make_node("Add", ["s", "one_half"], ["r"]),
        helper.make_node(op, ["r", "input"] if swap else ["input", "r"], ["t"]),
        helper.make_node(op, ["c", "t"] if swap else ["t", "c"], ["y"]),
    ]
    inits = {
        "axes": np.array(axes or [0], np.int64),
        "one_half": np.array(1.5, np.float32),
        "c": (1.0 + rng.random(const)).astype(np.float32),
    }
    x = rand(rng, *shape)
    if op == "Div" and swap:
        x = (np.sign(x) * (0.5 + np.abs(x))).astype(np.float32)  # dividing by x: keep it away from 0
    model = make_model(nodes, shape, inits)
    check_vjp(model, x, directions=1, rng=rng)
    # The broadcast constant as a trained parameter: its gradient is summed back to its own shape.
    check_param_vjp(model, x, ["c"], rng=rng, input_grad=swap)


@pytest.mark.parametrize("op", ["Neg", "Exp", "Log"])
def test_unary_ops(op: str) -> None:
    rng = np.random.default_rng(1)
    x = (0.5 + rng.random((2, 3, 4))).astype(np.float32)
    check_vjp(make_model([helper.make_node(op, ["input"], ["y"])], x.shape, {}), x, rng=rng)


def test_sum_with_fanout() -> None:
    """Sum of three uses of the same tensor (one broadcast) checks gradient accumulation at fan-out."""
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("ReduceSum", ["input", "ax"], ["r"], keepdims=1),
        helper.make_node("Sum", ["input", "input", "r"], ["y"]),
    ]
    x = rand(rng, 2, 3, 4)
    check_vjp(make_model(nodes, x.shape, {"ax": np.array([2], np.int64)}), x, rng=rng)
