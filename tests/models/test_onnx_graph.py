"""The graph writer's building blocks: TF "SAME" pads and BatchNorm folding, checked numerically."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from advengine.models.onnx_graph import IR_VERSION, OPSET, GraphWriter, fold_batchnorm, same_pads


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(224, 3, 2, (0, 1)), (225, 3, 2, (1, 1)), (112, 3, 1, (1, 1)), (56, 5, 2, (1, 2)), (7, 1, 1, (0, 0))],
)
def test_same_pads(size: int, kernel: int, stride: int, expected: tuple[int, int]) -> None:
    assert same_pads(size, kernel, stride) == expected
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


def _run(g: GraphWriter, out: str, x: np.ndarray) -> np.ndarray:
    graph = helper.make_graph(
        g.nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"x": x})[0])


def test_folded_conv_equals_conv_then_batchnorm() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    gamma, beta, mean = (rng.standard_normal(6).astype(np.float32) for _ in range(3))
    var = rng.random(6).astype(np.float32) + 0.1

    # Reference: an unfolded Conv + BatchNormalization graph run by ONNX Runtime.
    ref_nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"], epsilon=1e-3),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in zip([w, gamma, beta, mean, var], "wgbmv", strict=True)]
    ref_graph = helper.make_graph(
        ref_nodes,
        "ref",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    ref_model = helper.make_model(ref_graph, opset_imports=[helper.make_opsetid("", OPSET)])
    ref_model.ir_version = IR_VERSION
    ref = ort.InferenceSession(ref_model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]

    g = GraphWriter("x", 9)
    fw, fb = fold_batchnorm(w, gamma, beta, mean, var, 1e-3)
    out = g.conv("x", "c", fw, fb, stride=2)  # 9 -> 5 with TF SAME: pads (1, 1), same as the reference
    assert g.size == 5
    np.testing.assert_allclose(_run(g, out, x), ref, atol=1e-4, rtol=1e-4)


def test_normalise_and_relu6() -> None:
    x = np.linspace(0, 1, 3 * 4, dtype=np.float32).reshape(1, 3, 2, 2)
    g = GraphWriter("x", 2)
    y = g.relu6(g.normalise("x", 255.0, [127.0, 0.0, 10.0], [128.0, 1.0, 2.0]), "r")
    got = _run(g, y, x)
    mean = np.array([127.0, 0.0, 10.0]).reshape(1, 3, 1, 1)
    std = np.array([128.0, 1.0, 2.0]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(got, np.clip((x * 255.0 - mean) / std, 0, 6), atol=1e-5)
