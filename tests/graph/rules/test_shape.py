"""Layout ops: Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Pad, Identity,
Dropout, Cast. Each test multiplies by a constant first so that the gradient is not all ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from advengine.errors import UnsupportedOpError
from advengine.graph import compile_gradient_graph

from ..conftest import check_adjoint, check_vjp, make_model, rand

SHAPE = (2, 3, 4, 5)


def _check(nodes: list[object], inits: dict[str, np.ndarray], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inits = {"k": rand(rng, *SHAPE), **inits}
    pre = helper.make_node("Mul", ["input", "k"], ["t"])
    check_vjp(make_model([pre, *nodes], SHAPE, inits), rand(rng, *SHAPE), directions=2, rng=rng, rtol=1e-5)  # type: ignore[list-item]


def _i(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


@pytest.mark.parametrize(
    ("nodes", "inits"),
    [
        (
            [
                helper.make_node("Flatten", ["t"], ["f"], axis=2),
                helper.make_node("Reshape", ["f", "s"], ["y"]),
            ],
            {"s": _i(2, -1)},
        ),
        ([helper.make_node("Reshape", ["t", "s"], ["y"])], {"s": _i(2, 5, -1)}),
        (
            [
                helper.make_node("Unsqueeze", ["t", "a"], ["u"]),
                helper.make_node("Squeeze", ["u", "a"], ["y"]),
            ],
            {"a": _i(2)},
        ),
        ([helper.make_node("Transpose", ["t"], ["y"], perm=[0, 3, 1, 2])], {}),
        ([helper.make_node("Identity", ["t"], ["y"])], {}),
        ([helper.make_node("Dropout", ["t"], ["y"])], {}),
        (
            [
                helper.make_node("Cast", ["t"], ["c"], to=TensorProto.DOUBLE),
                helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT),
            ],
            {},
        ),
        (
            [
                helper.make_node("Split", ["t", "parts"], ["a", "b", "c"], axis=3),
                helper.make_node("Mul", ["c", "c"], ["cc"]),
                helper.make_node("Concat", ["cc", "a", "t"], ["y"], axis=3),
            ],
            {"parts": _i(1, 3, 1)},
        ),
        ([helper.make_node("Split", ["t", "parts"], ["y", "unused"], axis=1)], {"parts": _i(2, 1)}),
    ],
    ids=[
        "flatten",
        "reshape",
        "unsqueeze-squeeze",
        "transpose",
        "identity",
        "dropout",
        "cast",
        "split-concat",
        "split-unused",
    ],
)
def test_layout_op(nodes: list[object], inits: dict[str, np.ndarray]) -> None:
    _check(nodes, inits)


@settings(max_examples=25)
@given(
    spec=st.lists(
        st.tuples(st.integers(-6, 6), st.integers(-6, 6), st.sampled_from([1, 1, 2, -1, -2])),
        min_size=4,
        max_size=4,
    ),
    seed=st.integers(0, 2**16),
)
def test_slice(spec: list[tuple[int, int, int]], seed: int) -> None:
    starts, ends, steps = (list(v) for v in zip(*spec, strict=True))
    starts[0], ends[0], steps[0] = 0, 2, 1  # keep the batch
    node = helper.make_node("Slice", ["t", "st", "en", "ax", "sp"], ["y"])
    inits = {"st": _i(*starts), "en": _i(*ends), "ax": _i(0, 1, 2, 3), "sp": _i(*steps)}
    if any(
        len(range(*slice(s, e, p).indices(d))) == 0
        for s, e, p, d in zip(starts, ends, steps, SHAPE, strict=True)
    ):
        return  # empty slices have nothing to differentiate
    _check([node], inits, seed)


@settings(max_examples=20)
@given(pads=st.lists(st.integers(-1, 2), min_size=6, max_size=6), seed=st.integers(0, 2**16))
def test_constant_pad_including_negative_pads(pads: list[int], seed: int) -> None:
    node = helper.make_node("Pad", ["t", "p", "v", "ax"], ["y"], mode="constant")
    if min(pads) >= 0:
        _check([node], {"p": _i(*pads), "v": np.array(0.5, np.float32), "ax": _i(1, 2, 3)}, seed)
        return
    # onnx.reference cannot crop (numpy.pad refuses negative widths): with a zero fill value Pad is
    # linear and ORT's forward is the oracle.
    rng = np.random.default_rng(seed)
    inits = {"k": rand(rng, *SHAPE), "p": _i(*pads), "v": np.array(0.0, np.float32), "ax": _i(1, 2, 3)}
    pre = helper.make_node("Mul", ["input", "k"], ["t"])
    check_adjoint(make_model([pre, node], SHAPE, inits), rand(rng, *SHAPE), rng)


def test_reflect_pad_is_refused_before_running() -> None:
    node = helper.make_node("Pad", ["input", "p"], ["y"], mode="reflect")
    model = make_model([node], SHAPE, {"p": _i(0, 0, 1, 1, 0, 0, 1, 1)})
    with pytest.raises(UnsupportedOpError, match="mode='reflect'"):
        compile_gradient_graph(model, loss="seed", batch=2)


@settings(max_examples=10, deadline=None)
@given(perm=st.permutations([1, 2, 3]), seed=st.integers(0, 2**16))
def test_transpose_any_perm(perm: list[int], seed: int) -> None:
    _check([helper.make_node("Transpose", ["t"], ["y"], perm=[0, *perm])], {}, seed)


def _old_opset(nodes: list[object], opset: int) -> None:
    rng = np.random.default_rng(opset)
    inits = {"k": rand(rng, *SHAPE)}
    pre = helper.make_node("Mul", ["input", "k"], ["t"])
    model = make_model([pre, *nodes], SHAPE, inits, opset=opset)  # type: ignore[list-item]
    check_vjp(model, rand(rng, *SHAPE), directions=2, rng=rng, rtol=1e-5)


@pytest.mark.parametrize(
    ("nodes", "opset"),
    [
        (
            [
                helper.make_node("Unsqueeze", ["t"], ["u"], axes=[2]),
                helper.make_node("Squeeze", ["u"], ["y"], axes=[2]),
            ],
            11,
        ),
        (
            [
                helper.make_node("Split", ["t"], ["a", "b"], axis=3, split=[2, 3]),
                helper.make_node("Concat", ["b", "a"], ["y"], axis=3),
            ],
            11,
        ),
        ([helper.make_node("Split", ["t"], ["y", "z"], axis=1, split=[2, 1])], 11),
        ([helper.make_node("Slice", ["t"], ["y"], starts=[1, 0], ends=[3, -1], axes=[2, 3])], 9),
    ],
    ids=["squeeze-unsqueeze-attr", "split-attr", "split-attr-unused", "slice-attr"],
)
def test_attribute_forms_of_old_opsets(nodes: list[object], opset: int) -> None:
    """The attribute forms (before opset 13/10) are upgraded to the input forms, then differentiated."""
    _old_opset(nodes, opset)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1])
def test_softmax_any_axis(axis: int) -> None:
    """Attention takes the softmax over the last axis of [B, heads, q, k]; batch axis 0 too."""
    _check([helper.make_node("Softmax", ["t"], ["y"], axis=axis)], {})


def test_softmax_of_opset_11_is_coerced_to_two_dimensions() -> None:
    """Before opset 13 Softmax normalises over all axes from `axis` on. onnx.reference applies the new
    semantics to old models, so the oracle is numpy."""
    rng = np.random.default_rng(11)
    k = rand(rng, *SHAPE)
    nodes = [
        helper.make_node("Mul", ["input", "k"], ["t"]),
        helper.make_node("Softmax", ["t"], ["y"], axis=2),
    ]

    def reference(x: np.ndarray) -> np.ndarray:
        z = (x * k).reshape(6, 20)
        e = np.exp(z - z.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).reshape(2, -1)

    model = make_model(nodes, SHAPE, {"k": k}, opset=11)  # type: ignore[arg-type]
    check_vjp(model, rand(rng, *SHAPE), directions=2, rng=rng, reference=reference)


def test_upsample_of_old_opsets() -> None:
    """Upsample (opset 7–9) becomes Resize in the upgrade to opset 18."""
    rng = np.random.default_rng(7)
    k = rand(rng, *SHAPE)
    nodes = [
        helper.make_node("Mul", ["input", "k"], ["t"]),
        helper.make_node("Upsample", ["t"], ["y"], mode="nearest", scales=[1.0, 1.0, 2.0, 3.0]),
    ]

    def reference(x: np.ndarray) -> np.ndarray:  # onnx.reference cannot run opset-7 Upsample
        return np.repeat(np.repeat(x * k, 2, axis=2), 3, axis=3).reshape(2, -1)

    model = make_model(nodes, SHAPE, {"k": k}, opset=7)  # type: ignore[arg-type]
    check_vjp(model, rand(rng, *SHAPE), directions=2, rng=rng, reference=reference)


def test_shape_subgraphs_are_folded_to_constants() -> None:
    """Shape → Gather → Unsqueeze → Concat feeding a Reshape, ConstantOfShape and Range: constants for
    the compiled batch, never differentiated, and gone from the compiled graph."""
    nodes = [
        helper.make_node("Shape", ["t"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["t", "target"], ["flat"]),
        helper.make_node("Gather", ["s", "three"], ["w"], axis=0),
        helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT),
        helper.make_node("Range", ["fzero", "wf", "fone"], ["ramp"]),
        helper.make_node("Shape", ["ramp"], ["rs"]),
        helper.make_node(
            "ConstantOfShape", ["rs"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])
        ),
        helper.make_node("Add", ["ramp", "ones"], ["bias"]),
        helper.make_node("Reshape", ["flat", "four"], ["r4"]),
        helper.make_node("Mul", ["r4", "bias"], ["y"]),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "three": np.array(3, np.int64),
        "ax0": _i(0),
        "minus1": _i(-1),
        "four": _i(0, 12, 5),
        "fzero": np.array(0.0, np.float32),
        "fone": np.array(1.0, np.float32),
    }
    rng = np.random.default_rng(5)
    inits = {"k": rand(rng, *SHAPE), **inits}
    pre = helper.make_node("Mul", ["input", "k"], ["t"])
    model = make_model([pre, *nodes], ("N", 3, 4, 5), inits)
    check_vjp(model, rand(rng, *SHAPE), directions=2, rng=rng, rtol=1e-5)
    compiled = compile_gradient_graph(model, batch=2)
    ops = {n.op_type for n in compiled.graph.node}
    assert not ops & {"Shape", "ConstantOfShape", "Range"}, ops
    used = {i for n in compiled.graph.node for i in n.input}
    assert not [t.name for t in compiled.graph.initializer if t.name not in used]  # no dead links
