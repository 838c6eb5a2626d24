"""MaxPool (mask form), AveragePool, GlobalAveragePool and ReduceMean VJPs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import helper
from onnx.reference import ReferenceEvaluator

from advengine.graph import compile_gradient_graph

from ..conftest import check_adjoint, check_vjp, make_model, rand, session, to_float64


def _onnx_agrees_with_ort(model: onnx.ModelProto, x: np.ndarray) -> bool:
    """ONNX's reference and ORT disagree on ceil_mode windows that start in the end padding (ORT drops
    them); the float64 oracle can only judge configurations where both produce the same shape."""
    ref = ReferenceEvaluator(to_float64(model)).run(None, {"input": x.astype(np.float64)})[0]
    return bool(ref.shape == session(model).run(None, {"input": x})[0].shape)


@st.composite
def pool_configs(draw: st.DrawFn) -> dict[str, object]:
    k = draw(st.sampled_from([1, 2, 3]))
    stride = draw(st.integers(1, 3))
    dil = draw(st.integers(1, 2))
    pad = draw(st.integers(0, max(0, (k - 1) * dil // 2)))
    if k == 1:
        pad = 0
    return {
        "k": k,
        "h": draw(st.integers(k * dil + 1, 12)),
        "w": draw(st.integers(k * dil + 1, 12)),
        "attrs": {
            "kernel_shape": [k, k],
            "strides": [stride, stride],
            "dilations": [dil, dil],
            "pads": [pad, pad, pad, 0] if draw(st.booleans()) else [pad] * 4,
            "ceil_mode": int(draw(st.booleans())),
        },
    }


@settings(max_examples=40)
@given(cfg=pool_configs(), seed=st.integers(0, 2**16))
def test_max_pool_matches_finite_differences(cfg: dict[str, object], seed: int) -> None:
    rng = np.random.default_rng(seed)
    node = helper.make_node("MaxPool", ["input"], ["y"], **cfg["attrs"])  # type: ignore[arg-type]
    x = rand(rng, 2, 3, int(cfg["h"]), int(cfg["w"]))  # type: ignore[call-overload]
    model = make_model([node], x.shape, {})
    assume(_onnx_agrees_with_ort(model, x))
    check_vjp(model, x, directions=1, rng=rng)


def test_max_pool_ties_go_to_the_first_maximum() -> None:
    """After a ReLU many windows are all zero: each window's gradient must go to exactly one element."""
    x = np.zeros((1, 1, 4, 4), np.float32)
    node = helper.make_node("MaxPool", ["input"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    compiled = compile_gradient_graph(make_model([node], x.shape, {}), loss="seed", batch=1)
    grad = session(compiled).run(["grad"], {"input": x, "seed": np.ones((1, 4), np.float32)})[0]
    want = np.zeros((4, 4), np.float32)
    want[::2, ::2] = 1.0  # top-left of each 2×2 window
    np.testing.assert_array_equal(grad[0, 0], want)


@settings(max_examples=30)
@given(cfg=pool_configs(), include_pad=st.booleans(), seed=st.integers(0, 2**16))
def test_average_pool_matches_finite_differences(
    cfg: dict[str, object], include_pad: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    attrs = dict(cfg["attrs"])  # type: ignore[call-overload]
    # AveragePool has dilations only from opset 19, which onnx.reference does not implement.
    assume(attrs.pop("dilations") == [1, 1])
    node = helper.make_node("AveragePool", ["input"], ["y"], count_include_pad=int(include_pad), **attrs)
    x = rand(rng, 2, 3, int(cfg["h"]), int(cfg["w"]))  # type: ignore[call-overload]
    model = make_model([node], x.shape, {})
    if attrs["ceil_mode"]:
        check_adjoint(model, x, rng)  # onnx.reference mis-averages ceil_mode windows; ORT is the oracle
    else:
        check_vjp(model, x, directions=1, rng=rng)


def test_global_average_pool() -> None:
    rng = np.random.default_rng(0)
    x = rand(rng, 2, 3, 5, 7)
    node = helper.make_node("GlobalAveragePool", ["input"], ["y"])
    check_vjp(make_model([node], x.shape, {}), x, directions=2, rng=rng, rtol=1e-5)


@pytest.mark.parametrize(("axes", "keepdims"), [([2, 3], 1), ([1], 0), ([-1], 1), ([1, 2, 3], 0)])
def test_reduce_mean(axes: list[int], keepdims: int) -> None:
    rng = np.random.default_rng(1)
    x = rand(rng, 2, 3, 4, 5)
    node = helper.make_node("ReduceMean", ["input", "axes"], ["y"], keepdims=keepdims)
    check_vjp(
        make_model([node], x.shape, {"axes": np.array(axes, np.int64)}), x, directions=2, rng=rng, rtol=1e-5
    )


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceL2", "ReduceSumSquare", "ReduceSum"])
@pytest.mark.parametrize(
    ("axes", "keepdims", "form"),
    [([2, 3], 1, "input"), ([1], 0, "attribute"), ([-1], 1, "attribute"), (None, 0, "input")],
)
def test_reductions_over_any_axes_in_both_forms(
    op: str, axes: list[int] | None, keepdims: int, form: str
) -> None:
    """`axes` as an input (opset 18) and as an attribute (opset 13, upgraded by the compiler)."""
    rng = np.random.default_rng(2)
    x = rand(rng, 2, 3, 4, 5)
    inits: dict[str, np.ndarray] = {}
    if form == "input":
        inputs = ["input", "axes"] if axes is not None else ["input"]
        if axes is not None:
            inits["axes"] = np.array(axes, np.int64)
        node = helper.make_node(op, inputs, ["y"], keepdims=keepdims)
        opset = 18
    else:
        node = helper.make_node(op, ["input"], ["y"], keepdims=keepdims, axes=axes)
        opset = 13 if op != "ReduceSum" else 11
    if axes is None and keepdims == 0:
        # A full reduction leaves a scalar per batch only with keepdims; reduce over the non-batch axes.
        node = helper.make_node(op, ["input", "axes"], ["y"], keepdims=0)
        inits["axes"] = np.array([1, 2, 3], np.int64)
    check_vjp(make_model([node], x.shape, inits, opset=opset), x, directions=2, rng=rng, rtol=1e-4)


def test_reduce_max_ties_share_the_gradient() -> None:
    model = make_model(
        [helper.make_node("ReduceMax", ["input", "ax"], ["y"], keepdims=0)],
        (1, 4),
        {"ax": np.array([1], np.int64)},
    )
    from ..conftest import seed_grad

    _, grad = seed_grad(model, np.array([[1.0, 3.0, 3.0, 0.0]], np.float32), np.array([[2.0]], np.float32))
    np.testing.assert_allclose(grad, [[0.0, 1.0, 1.0, 0.0]])
