"""Dropout at inference in the ONNX graph, on a tiny Flatten → Gemm classifier checked against numpy:
the host-noise variant is inverted dropout exactly, p = 0 is the plain model, the in-graph variant
draws fresh masks per run and the gradient compiler differentiates through each run's mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from advengine.errors import ModelError
from advengine.graph import compile_gradient_graph
from advengine.models.dropout import DROPOUT_NOISE, add_dropout, dropout_file, logits_layer

Array = np.ndarray[Any, Any]
RNG = np.random.default_rng(7)
W = RNG.normal(size=(5, 12)).astype(np.float32)  # [classes, features], transB = 1
B = RNG.normal(size=5).astype(np.float32)


def tiny(head: str = "Gemm") -> onnx.ModelProto:
    """input [N, 3, 2, 2] → Flatten → the fully connected ``head`` → logits [N, 5]."""
    nodes = [helper.make_node("Flatten", ["input"], ["flat"], axis=1)]
    inits = [numpy_helper.from_array(B, "b")]
    if head == "Gemm":
        nodes.append(helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1))
        inits.append(numpy_helper.from_array(W, "w"))
    elif head == "MatMul":
        nodes += [
            helper.make_node("MatMul", ["flat", "wt"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["logits"]),
        ]
        inits.append(numpy_helper.from_array(np.ascontiguousarray(W.T), "wt"))
    else:
        nodes.append(helper.make_node("Relu", ["flat"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 2, 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def x_batch(n: int = 4) -> Array:
    return RNG.random((n, 3, 2, 2), dtype=np.float32)


@pytest.mark.parametrize("head", ["Gemm", "MatMul"])
def test_host_noise_is_inverted_dropout(head: str) -> None:
    p = 0.4
    x = x_batch()
    u = RNG.random((4, 12), dtype=np.float32)
    assert logits_layer(tiny(head), "tiny")[1:] == ("flat", 12)
    z = session(add_dropout(tiny(head), p, "input")).run(["logits"], {"input": x, DROPOUT_NOISE: u})[0]
    mask = (u >= p) / np.float32(1 - p)
    expected = (x.reshape(4, 12) * mask) @ W.T + B
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)


def test_rate_zero_is_the_plain_model() -> None:
    x = x_batch()
    plain = session(tiny()).run(["logits"], {"input": x})[0]
    u = RNG.random((4, 12), dtype=np.float32)
    dropped = session(add_dropout(tiny(), 0.0, "input")).run(["logits"], {"input": x, DROPOUT_NOISE: u})[0]
    np.testing.assert_array_equal(dropped, plain)


def test_graph_noise_draws_a_fresh_mask_per_run() -> None:
    sess = session(add_dropout(tiny(), 0.5, "graph", seed=3.0))
    x = x_batch()
    a, b = (sess.run(["logits"], {"input": x})[0] for _ in range(2))
    assert not np.array_equal(a, b)
    # A new session with the same seed replays the same draws.
    again = session(add_dropout(tiny(), 0.5, "graph", seed=3.0)).run(["logits"], {"input": x})[0]
    np.testing.assert_array_equal(a, again)


def test_gradient_goes_through_each_runs_mask() -> None:
    p = 0.5
    compiled = compile_gradient_graph(add_dropout(tiny(), p, "graph"), loss="ce", batch=4)
    sess = session(compiled)
    x = x_batch()
    y = np.array([0, 1, 2, 3], np.int64)
    z, g = sess.run(["logits", "grad"], {"input": x, "label": y})
    e = np.exp(z - z.max(axis=1, keepdims=True))
    dz = e / e.sum(axis=1, keepdims=True) - np.eye(5, dtype=np.float32)[y]
    # d CE / d x = mask ⊙ Wᵀ dz, so every entry is either dropped (0) or scaled by 1 / (1 − p).
    ratio = g.reshape(4, 12) / (dz @ W)
    dropped = np.isclose(ratio, 0.0, atol=1e-4)
    kept = np.isclose(ratio, 1 / (1 - p), rtol=1e-3)
    assert (dropped | kept).all()
    assert dropped.any()
    assert kept.any()


def test_a_model_without_a_fully_connected_head_is_refused() -> None:
    with pytest.raises(ModelError, match="final Gemm or MatMul"):
        add_dropout(tiny("Relu"), 0.2, "input")
    with pytest.raises(ModelError, match="outside"):
        add_dropout(tiny(), 1.0, "input")


def test_variants_are_cached_per_setting(tmp_path: Path) -> None:
    src = tmp_path / "tiny.onnx"
    onnx.save(tiny(), str(src))
    a = dropout_file(src, 0.2, "input", tmp_path)
    assert a.is_file()
    assert dropout_file(src, 0.2, "input", tmp_path) == a
    assert len({a, dropout_file(src, 0.3, "input", tmp_path), dropout_file(src, 0.2, "graph", tmp_path)}) == 3
    assert DROPOUT_NOISE in [i.name for i in onnx.load(str(a)).graph.input]
