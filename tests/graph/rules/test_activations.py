"""Pointwise activation VJPs against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_vjp, make_model, rand, seed_grad

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


@pytest.mark.parametrize(("op", "lo", "hi"), [("Clip", 0.0, 6.0), ("Clip", -0.5, 0.7), ("Relu", 0.0, None)])
def test_masks_are_exact_at_and_beside_the_bounds(op: str, lo: float, hi: float | None) -> None:
    """The rank-4 masks (scaled 1×1 Conv + Clip) pass dy exactly where lo < y < hi and nothing on the
    bounds, down to the neighbouring floats (above a zero bound: the smallest normal float, 2^-126;
    subnormal outputs are the documented exception)."""
    f32 = np.float32
    above = float(np.finfo(f32).tiny) if lo == 0.0 else np.nextafter(f32(lo), f32(1))
    edges = [lo, above, np.nextafter(f32(lo), f32(-1)), lo - 1, lo + 1]
    if hi is not None:
        edges += [hi, np.nextafter(f32(hi), f32(-10)), np.nextafter(f32(hi), f32(10)), hi + 1]
    x = np.tile(np.asarray(edges, np.float32), 6).reshape(2, 3, 1, -1)
    if op == "Clip":
        inits = {"lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}
        node = helper.make_node("Clip", ["input", "lo", "hi"], ["y"])
    else:
        inits, node = {}, helper.make_node("Relu", ["input"], ["y"])
    model = make_model([node], x.shape, inits)
    seed = np.random.default_rng(0).standard_normal((2, x[0].size)).astype(np.float32)
    _, grad = seed_grad(model, x, seed)
    inside = (x > lo) & (x < (np.inf if hi is None else hi))
    np.testing.assert_array_equal(grad, np.where(inside, seed.reshape(x.shape), 0.0))
