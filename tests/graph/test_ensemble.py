"""Ensembles: members of different native sizes behind their own bilinear resize, three fusions."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from advengine.errors import ParameterError
from advengine.graph.compiler import compile_spec
from advengine.graph.ensemble import compile_ensemble, ensemble_spec
from advengine.graph.interpolation import bilinear_matrix

from .conftest import session, tiny_mobilenet, to_float64

Array = np.ndarray[Any, Any]
SHARED = 24


def fixed_size(model: onnx.ModelProto, size: int) -> onnx.ModelProto:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d in dims[2:]:
        d.Clear()
        d.dim_value = size
    return model


@pytest.fixture(scope="module")
def members() -> list[onnx.ModelProto]:
    rng = np.random.default_rng(8)
    return [fixed_size(tiny_mobilenet(rng, classes=7), s) for s in (16, 24, 20)]


def ce(z: Array, label: Array) -> Array:
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(label)), label]


@pytest.mark.parametrize("fusion", ["logit", "prob", "loss"])
def test_ensemble_gradient_matches_finite_differences(members: list[onnx.ModelProto], fusion: str) -> None:
    weights = [1.0, 2.0, 0.5]
    spec, name = ensemble_spec(members, weights, fusion, SHARED)
    compiled = compile_spec(spec, name, loss="ce", batch=2, size=SHARED)
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, SHARED, SHARED), dtype=np.float32)
    label = np.array([2, 6], np.int64)
    _logits, loss, grad = session(compiled).run(["logits", "loss", "grad"], {"input": x, "label": label})

    ref = ReferenceEvaluator(to_float64(spec.model))
    w = np.array(weights) / sum(weights)
    member_logits = [f"m{i}/logits" for i in range(3)]

    def total(t: Array) -> float:
        outs = ref.run(["ens/logits", *member_logits], {"input": t})
        if fusion == "loss":
            return float(sum(wi * ce(z, label) for wi, z in zip(w, outs[1:], strict=True)).sum())
        return float(ce(outs[0], label).sum())

    want_loss = total(x.astype(np.float64))
    assert abs(float(loss.sum()) - want_loss) <= 1e-4 * abs(want_loss)
    for _ in range(2):
        v = rng.standard_normal(x.shape)
        h = 1e-6
        want = (total(x + h * v) - total(x - h * v)) / (2 * h)
        got = float(np.sum(grad.astype(np.float64) * v))
        assert abs(got - want) <= 2e-4 * float(np.sum(np.abs(grad * v))), (fusion, got, want)


def test_member_resize_is_ort_bilinear() -> None:
    r = bilinear_matrix(299, 224)
    assert r.shape == (224, 299)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, rtol=1e-6)
    img = np.random.default_rng(0).random((299, 299)).astype(np.float32)
    import onnxruntime as ort
    from onnx import helper

    node = helper.make_node(
        "Resize", ["x", "", "", "s"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel"
    )
    g = helper.make_graph(
        [node],
        "r",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 299, 299])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        initializer=[helper.make_tensor("s", onnx.TensorProto.INT64, [4], [1, 1, 224, 224])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": img[None, None]}
    )[0][0, 0]
    np.testing.assert_allclose(r @ img @ r.T, want, rtol=1e-5, atol=1e-6)


def test_member_resize_is_one_resize_node_matching_the_matrices(members: list[onnx.ModelProto]) -> None:
    # The forward resize is ORT's Resize (a few reads per output pixel), not two dense MatMuls
    # (issue 25); it computes the same bilinear map as the matrices its VJP uses.
    spec, _ = ensemble_spec(members, None, "logit", SHARED)
    resizes = [n for n in spec.model.graph.node if n.op_type == "Resize"]
    assert len(resizes) == 2  # the members of native size 16 and 20; the 24 one takes the input as is
    x = np.random.default_rng(1).random((2, 3, SHARED, SHARED)).astype(np.float32)
    inputs = {n.output[0]: n for n in resizes}
    probe = onnx.ModelProto()
    probe.CopyFrom(spec.model)
    del probe.graph.output[:]
    probe.graph.output.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in inputs
    )
    got = session(probe).run(None, {"input": x})
    for out, size in zip(got, (16, 20), strict=True):
        r = bilinear_matrix(SHARED, size)
        np.testing.assert_allclose(out, r @ x @ r.T, rtol=1e-5, atol=1e-6)


def test_bad_weights(members: list[onnx.ModelProto]) -> None:
    with pytest.raises(ParameterError, match="weights"):
        compile_ensemble(members, weights=[1.0, 2.0], size=SHARED)
    with pytest.raises(ParameterError, match="unknown fusion"):
        compile_ensemble(members, fusion="vote", size=SHARED)
