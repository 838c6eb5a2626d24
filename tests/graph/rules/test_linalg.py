"""Gemm (all transpose/alpha/beta combinations, image-dependent A, B and C) and MatMul with broadcasting
and 1-D operands; their operands and bias as trained parameters."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ..conftest import check_param_vjp, check_vjp, make_model, rand


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("b_depends", [False, True])
def test_gemm(trans_a: int, trans_b: int, b_depends: bool) -> None:
    rng = np.random.default_rng(trans_a * 4 + trans_b * 2 + b_depends)
    n, k, m = 3, 4, 5
    x = rand(rng, n, k)
    nodes = []
    a = "input"
    if trans_a:
        nodes.append(helper.make_node("Transpose", ["input"], ["at"], perm=[1, 0]))
        a = "at"
    inits = {"c": rand(rng, m)}
    if b_depends:
        # B = (xᵀ x)·W, image-dependent and square in k; shape [k, m] (or [m, k] transposed).
        nodes.append(helper.make_node("MatMul", ["input", "w"], ["xw"]))  # [n, m]
        nodes.append(helper.make_node("Transpose", ["input"], ["xt"], perm=[1, 0]))  # [k, n]
        nodes.append(helper.make_node("MatMul", ["xt", "xw"], ["bb"]))  # [k, m]
        inits["w"] = rand(rng, k, m)
        if trans_b:
            nodes.append(helper.make_node("Transpose", ["bb"], ["b"], perm=[1, 0]))
        else:
            nodes.append(helper.make_node("Identity", ["bb"], ["b"]))
    else:
        inits["b"] = rand(rng, m, k) if trans_b else rand(rng, k, m)
    nodes.append(
        helper.make_node("Gemm", [a, "b", "c"], ["y"], transA=trans_a, transB=trans_b, alpha=0.7, beta=1.3)
    )
    check_vjp(make_model(nodes, x.shape, inits), x, directions=2, rng=rng, rtol=1e-5)


@pytest.mark.parametrize(
    ("w_shape", "pre"),
    [((5, 6), None), ((3, 5, 2), None), ((5,), None), ((2, 3, 4, 5), "swap")],
    ids=["matrix", "batched-const", "vector", "both-depend"],
)
def test_matmul(w_shape: tuple[int, ...], pre: str | None) -> None:
    rng = np.random.default_rng(len(w_shape))
    x = rand(rng, 2, 3, 4, 5)
    if pre == "swap":
        nodes = [
            helper.make_node("Transpose", ["input"], ["xt"], perm=[0, 1, 3, 2]),  # [2,3,5,4]
            helper.make_node("MatMul", ["input", "xt"], ["y"]),  # x·xᵀ: both operands depend on x
        ]
        inits = {}
    else:
        nodes = [helper.make_node("MatMul", ["input", "w"], ["y"])]
        inits = {"w": rand(rng, *w_shape)}
    check_vjp(make_model(nodes, x.shape, inits), x, directions=2, rng=rng, rtol=1e-5)


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [(5,), (1, 5), (3, 1), (3, 5)], ids=["row", "row2d", "col", "full"])
def test_gemm_parameters(trans_b: int, c_shape: tuple[int, ...]) -> None:
    """Weight and a bias broadcast along either axis; A as a parameter too (x enters as B)."""
    rng = np.random.default_rng(trans_b + len(c_shape))
    x = rand(rng, 3, 4)
    inits = {"w": rand(rng, 5, 4) if trans_b else rand(rng, 4, 5), "c": rand(rng, *c_shape)}
    node = helper.make_node("Gemm", ["input", "w", "c"], ["y"], transB=trans_b, alpha=0.7, beta=1.3)
    model = make_model([node], x.shape, inits)
    check_param_vjp(model, x, ["w", "c"], rng=rng, rtol=1e-5)
    check_param_vjp(model, x, ["c"], rng=rng, rtol=1e-5, input_grad=True)
    # y = (A·xᵀ)ᵀ, so that the logits keep the batch first.
    lhs = [
        helper.make_node("Gemm", ["a", "input"], ["ax"], transB=1),
        helper.make_node("Transpose", ["ax"], ["y"], perm=[1, 0]),
    ]
    check_param_vjp(make_model(lhs, x.shape, {"a": rand(rng, 2, 4)}), x, ["a"], rng=rng, rtol=1e-5)


@pytest.mark.parametrize(
    "w_shape", [(5, 6), (3, 5, 2), (5,), (1, 1, 5, 2)], ids=["matrix", "batched", "vector", "broadcast"]
)
def test_matmul_parameters(w_shape: tuple[int, ...]) -> None:
    """A weight broadcast over the batch axes gets its gradient summed over them."""
    rng = np.random.default_rng(len(w_shape))
    x = rand(rng, 2, 3, 4, 5)
    model = make_model(
        [helper.make_node("MatMul", ["input", "w"], ["y"])], x.shape, {"w": rand(rng, *w_shape)}
    )
    check_param_vjp(model, x, ["w"], rng=rng, rtol=1e-5)
    left = make_model([helper.make_node("MatMul", ["w", "input"], ["y"])], x.shape, {"w": rand(rng, 4, 4)})
    check_param_vjp(left, x, ["w"], rng=rng, rtol=1e-5, input_grad=True)
