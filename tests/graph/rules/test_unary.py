"""Sqrt, Reciprocal, Abs, Pow, Erf, Gelu (both forms), Softplus, Mish and the exported SiLU against
float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_vjp, make_model, rand

SHAPES = st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple)


def _nodes(op: str) -> tuple[list[object], dict[str, np.ndarray], int]:
    """Nodes, initializers and opset; inputs of Sqrt/Reciprocal are kept away from 0 by an Abs + 0.5."""
    positive = [
        helper.make_node("Abs", ["input"], ["a"]),
        helper.make_node("Add", ["a", "half"], ["p"]),
    ]
    half = {"half": np.array(0.5, np.float32)}
    if op in ("Sqrt", "Reciprocal"):
        return [*positive, helper.make_node(op, ["p"], ["y"])], half, 18
    if op == "PowConst":
        return (
            [*positive, helper.make_node("Pow", ["p", "e"], ["y"])],
            {
                **half,
                "e": np.array(1.7, np.float32),
            },
            18,
        )
    if op == "PowSquare":
        return [helper.make_node("Pow", ["input", "two"], ["y"])], {"two": np.array(2.0, np.float32)}, 18
    if op == "PowBoth":
        # base and exponent both depend on the image
        nodes = [
            *positive,
            helper.make_node("Sigmoid", ["input"], ["s"]),
            helper.make_node("Pow", ["p", "s"], ["y"]),
        ]
        return nodes, half, 18
    if op == "GeluTanh":
        return [helper.make_node("Gelu", ["input"], ["y"], approximate="tanh")], {}, 20
    if op == "Gelu":
        return [helper.make_node("Gelu", ["input"], ["y"])], {}, 20
    if op == "GeluErfForm":  # what exporters before opset 20 write: x/2·(1 + erf(x/√2))
        nodes = [
            helper.make_node("Div", ["input", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["e1"]),
            helper.make_node("Mul", ["input", "e1"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["y"]),
        ]
        consts = {"sqrt2": np.array(np.sqrt(2), np.float32), "one": np.array(1.0, np.float32), **half}
        return nodes, consts, 18
    if op == "SiLU":
        return (
            [helper.make_node("Sigmoid", ["input"], ["s"]), helper.make_node("Mul", ["input", "s"], ["y"])],
            {},
            18,
        )
    return [helper.make_node(op, ["input"], ["y"])], {}, 18


@pytest.mark.parametrize(
    "op",
    [
        "Sqrt",
        "Reciprocal",
        "Abs",
        "Neg",
        "PowConst",
        "PowSquare",
        "PowBoth",
        "Erf",
        "Gelu",
        "GeluTanh",
        "GeluErfForm",
        "Softplus",
        "Mish",
        "SiLU",
    ],
)
@settings(max_examples=6, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_unary_matches_finite_differences(op: str, shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes, inits, opset = _nodes(op)
    x = rand(rng, *shape, scale=2.0)
    # onnx.reference's Erf is a 1e-7 approximation: a step of 1e-6 would difference its wiggles, and
    # at 1e-3 they still leave ~1e-4 of noise in the difference quotient. Where every input sits in
    # erf's flat tail the reference's erf is exactly ±1, its quotient exactly 0 while the true
    # derivative is ~1e-6: the per-element noise floor (atol) covers that, as it covers the wiggles.
    erf_based = op in ("Erf", "Gelu", "GeluErfForm")
    model = make_model(nodes, shape, inits, opset=opset)  # type: ignore[arg-type]
    check_vjp(
        model,
        x,
        directions=1,
        rng=rng,
        h=1e-3 if erf_based else 1e-6,
        rtol=1e-3 if erf_based else 2e-4,
        atol=1e-4 if erf_based else 0.0,
    )
