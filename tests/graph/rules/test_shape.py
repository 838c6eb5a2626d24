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
