"""Whole-model gradient checks on the real zoo: EfficientNet-Lite0 alone and a 3-model ensemble at 299
(each member behind its own bilinear resize), against float64 finite differences through onnx.reference
along a few random directions (each reference forward takes seconds, so only a few)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from advengine.graph import compile_gradient_graph
from advengine.graph.compiler import compile_spec
from advengine.graph.ensemble import ensemble_spec
from advengine.models import ensure_onnx

from .conftest import session, to_float64

Array = np.ndarray[Any, Any]
pytestmark = pytest.mark.slow


def _ce(z: Array, label: Array) -> Array:
    shifted = z - z.max(axis=1, keepdims=True)
    return -(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))[np.arange(len(label)), label]


def _check_directions(grad: Array, x: Array, total: Any, rng: np.random.Generator, n: int = 2) -> None:
    for _ in range(n):
        v = rng.standard_normal(x.shape)
        h = 1e-5
        want = (total(x + h * v) - total(x - h * v)) / (2 * h)
        got = float(np.sum(grad.astype(np.float64) * v))
        scale = float(np.sum(np.abs(grad.astype(np.float64) * v)))
        assert abs(got - want) <= 1e-3 * scale, (got, want, scale)


def test_efficientnet_lite0_ce_gradient() -> None:
    path = ensure_onnx("efficientnet-lite0")
    model = onnx.load(str(path))
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, 224, 224), dtype=np.float32)
    label = np.array([281], np.int64)
    compiled = compile_gradient_graph(model, loss="ce", batch=1)
    name = model.graph.input[0].name
    logits, loss, grad = session(compiled).run(["logits", "loss", "grad"], {name: x, "label": label})
    ref = ReferenceEvaluator(to_float64(model))
    out = model.graph.output[0].name

    def total(t: Array) -> float:
        return float(_ce(ref.run([out], {name: t})[0], label).sum())

    z64 = ref.run([out], {name: x.astype(np.float64)})[0]
    np.testing.assert_allclose(logits, z64, rtol=1e-3, atol=1e-3)
    assert loss[0] == pytest.approx(total(x.astype(np.float64)), rel=1e-4)
    _check_directions(grad, x, total, rng)


def test_three_model_ensemble_at_299() -> None:
    paths = [ensure_onnx(n) for n in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")]
    spec, name = ensemble_spec(paths, [1.0, 1.0, 2.0], "logit", 299)
    compiled = compile_spec(spec, name, loss="ce", batch=1, size=299)
    rng = np.random.default_rng(1)
    x = rng.random((1, 3, 299, 299), dtype=np.float32)
    label = np.array([17], np.int64)
    loss, grad = session(compiled).run(["loss", "grad"], {"input": x, "label": label})
    ref = ReferenceEvaluator(to_float64(spec.model))

    def total(t: Array) -> float:
        return float(_ce(ref.run(["ens/logits"], {"input": t})[0], label).sum())

    assert loss[0] == pytest.approx(total(x.astype(np.float64)), rel=1e-4)
    _check_directions(grad, x, total, rng, n=1)
