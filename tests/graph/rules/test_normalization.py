"""BatchNormalization (inference), LayerNormalization, InstanceNormalization, GroupNormalization (both
opset forms) and LRN VJPs; the scale and bias gradients of the normalisations (and BN's statistics)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from advengine.errors import GraphError
from advengine.graph import compile_gradient_graph

from ..conftest import Array, check_param_vjp, check_vjp, make_model, rand


def _bn(rng: np.random.Generator, c: int, **attrs: object) -> onnx.ModelProto:
    inits = {
        "s": rand(rng, c),
        "b": rand(rng, c),
        "m": rand(rng, c),
        "v": (0.2 + rng.random(c)).astype(np.float32),
    }
    node = helper.make_node("BatchNormalization", ["input", "s", "b", "m", "v"], ["y"], epsilon=1e-3, **attrs)
    return make_model([node], (2, c, 5, 4), inits)


def test_batchnorm_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    check_vjp(_bn(rng, 6), rand(rng, 2, 6, 5, 4), directions=3, rng=rng, rtol=1e-5)


@pytest.mark.parametrize(
    "params",
    [["s", "b"], ["b"], ["m", "v"], ["s", "b", "m", "v"]],
    ids=["affine", "bias-only", "statistics", "all"],
)
@pytest.mark.parametrize("input_grad", [False, True])
def test_batchnorm_parameter_gradients(params: list[str], input_grad: bool) -> None:
    """dγ, dβ (and dμ, dσ² when asked), with the input gradient taken at the same runtime scale."""
    rng = np.random.default_rng(len(params))
    x = rand(rng, 2, 6, 5, 4)
    model = _bn(rng, 6)
    check_param_vjp(model, x, params, rng=rng, rtol=1e-5, input_grad=input_grad)
    if input_grad:
        check_vjp(model, x, directions=2, rng=rng, rtol=1e-5)


def test_batchnorm_on_a_flat_input() -> None:
    rng = np.random.default_rng(7)
    inits = {"s": rand(rng, 5), "b": rand(rng, 5), "m": rand(rng, 5), "v": (0.2 + rng.random(5)).astype("f")}
    node = helper.make_node("BatchNormalization", ["input", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    x = rand(rng, 3, 5)
    check_param_vjp(make_model([node], x.shape, inits), x, ["s", "b", "v"], rng=rng, rtol=1e-5)


def test_training_mode_batchnorm_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(GraphError, match="training mode"):
        compile_gradient_graph(_bn(rng, 3, training_mode=1), loss="seed", batch=2)


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    axis=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_matches_finite_differences(shape: tuple[int, ...], axis: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    full = (2, *shape)
    axis = 1 + (axis - 1) % len(shape)
    normalized = full[axis:]
    inits = {"g": rand(rng, *normalized), "b": rand(rng, *normalized)}
    node = helper.make_node("LayerNormalization", ["input", "g", "b"], ["y"], axis=axis, epsilon=1e-3)
    model, x = make_model([node], full, inits, opset=18), rand(rng, *full)
    check_vjp(model, x, directions=1, rng=rng)
    check_param_vjp(model, x, ["g", "b"], rng=rng)


def test_layer_norm_broadcast_scale() -> None:
    """A scale over the last axis only (broadcast over the rest of the normalised axes)."""
    rng = np.random.default_rng(8)
    inits = {"g": rand(rng, 5), "b": rand(rng, 1, 5)}
    node = helper.make_node("LayerNormalization", ["input", "g", "b"], ["y"], axis=1, epsilon=1e-3)
    x = rand(rng, 2, 3, 5)
    check_param_vjp(make_model([node], x.shape, inits), x, ["g", "b"], rng=rng, input_grad=True)


def test_instance_norm_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    inits = {"g": rand(rng, 3), "b": rand(rng, 3)}
    node = helper.make_node("InstanceNormalization", ["input", "g", "b"], ["y"], epsilon=1e-4)
    model, x = make_model([node], (2, 3, 4, 5), inits), rand(rng, 2, 3, 4, 5)
    check_vjp(model, x, directions=2, rng=rng)
    check_param_vjp(model, x, ["g", "b"], rng=rng)
    check_param_vjp(model, x, ["g"], rng=rng, input_grad=True)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_matches_finite_differences(groups: int) -> None:
    """Opset 21's form (scale per channel); onnx deprecated opset 18's per-group scale."""
    rng = np.random.default_rng(groups)
    inits = {"g": rand(rng, 6), "b": rand(rng, 6)}
    node = helper.make_node("GroupNormalization", ["input", "g", "b"], ["y"], num_groups=groups, epsilon=1e-4)
    x = rand(rng, 2, 6, 3, 4)

    def reference(t: Array, values: dict[str, Array] = inits) -> Array:
        # onnx.reference keeps GroupNormalization's statistics in float32 (stash_type): numpy in float64.
        grouped = t.reshape(2, groups, -1)
        centred = grouped - grouped.mean(-1, keepdims=True)
        xhat = (centred / np.sqrt((centred**2).mean(-1, keepdims=True) + 1e-4)).reshape(t.shape)
        per_channel = (1, 6, 1, 1)
        return (xhat * values["g"].reshape(per_channel) + values["b"].reshape(per_channel)).reshape(2, -1)

    model = make_model([node], x.shape, inits, opset=21)
    check_vjp(model, x, directions=2, rng=rng, reference=reference)
    check_param_vjp(model, x, ["g", "b"], rng=rng, reference=reference, input_grad=True)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_matches_finite_differences(size: int) -> None:
    """ORT accepts odd window sizes only. onnx.reference's LRN disagrees with the spec and with ORT
    (off by up to 1 here), so the oracle is the spec's formula in float64 numpy."""
    rng = np.random.default_rng(size)
    node = helper.make_node("LRN", ["input"], ["y"], size=size, alpha=0.3, beta=0.75, bias=1.5)
    x = rand(rng, 2, 6, 3, 4)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2

    def reference(t: np.ndarray) -> np.ndarray:
        window = np.stack([(t[:, max(0, c - lo) : c + hi + 1] ** 2).sum(1) for c in range(6)], axis=1)
        return (t / (1.5 + 0.3 / size * window) ** 0.75).reshape(2, -1)

    check_vjp(make_model([node], x.shape, {}), x, directions=2, rng=rng, reference=reference)


def test_layer_norm_exported_by_parts() -> None:
    """Exporters below opset 17 write LayerNorm as ReduceMean, Sub, Pow, Sqrt, Div (axes as attributes
    at opset 13): the upgrade to opset 18 and the rules of the parts must give the same gradient."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[-1]),
        helper.make_node("Sub", ["input", "m"], ["c"]),
        helper.make_node("Pow", ["c", "two"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["v"], axes=[-1]),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["c", "sd"], ["y"]),
    ]
    inits = {"two": np.array(2.0, np.float32), "eps": np.array(1e-5, np.float32)}
    x = rand(rng, 2, 3, 8)
    check_vjp(make_model(nodes, x.shape, inits, opset=13), x, directions=2, rng=rng)
