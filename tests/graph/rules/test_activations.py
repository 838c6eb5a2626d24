"""Pointwise activation VJPs against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_vjp, make_model, rand

SHAPES = st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple)


def _node(op: str, rank: int) -> tuple[list[object], dict[str, np.ndarray]]:
    inits: dict[str, np.ndarray] = {}
    if op == "Clip":
        inits = {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}
        return [helper.make_node("Clip", ["input", "lo", "hi"], ["y"])], inits
    if op == "ClipMaxOnly":
        inits = {"hi": np.array(0.3, np.float32)}
        return [helper.make_node("Clip", ["input", "", "hi"], ["y"])], inits
    if op == "LeakyRelu":
        return [helper.make_node(op, ["input"], ["y"], alpha=0.13)], inits
    if op == "HardSigmoid":
        return [helper.make_node(op, ["input"], ["y"], alpha=0.3, beta=0.4)], inits
    if op in ("Softmax", "LogSoftmax"):
        return [helper.make_node(op, ["input"], ["y"], axis=rank - 2)], inits
    return [helper.make_node(op, ["input"], ["y"])], inits


@pytest.mark.parametrize(
    "op",
    [
        "Relu",
        "Clip",
        "ClipMaxOnly",
        "LeakyRelu",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Tanh",
        "Softmax",
        "LogSoftmax",
    ],
)
@settings(max_examples=8)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_activation_matches_finite_differences(op: str, shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes, inits = _node(op, len(shape))
    # Scale 4 puts values on both sides of every kink (±3 for HardSwish, the clip bounds, 0).
    x = rand(rng, *shape, scale=4.0)
    # A saturated softmax (p ≈ 1 − 1e-4) cancels in dy − Σdy·y: float32 leaves ~eps·|seed| per element.
    atol = 1e-6 if op in ("Softmax", "LogSoftmax") else 0.0
    check_vjp(make_model(nodes, shape, inits), x, directions=1, rng=rng, atol=atol)  # type: ignore[arg-type]
