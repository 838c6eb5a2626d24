"""Loss heads: per-sample losses against numpy on the logits, and their input gradients against float64
finite differences of the same loss through onnx.reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from advengine.errors import ParameterError
from advengine.graph import compile_gradient_graph

from .conftest import session, tiny_mobilenet, to_float64

Array = np.ndarray[Any, Any]
KAPPA = 0.5


def numpy_loss(kind: str, z: Array, label: Array, kappa: float = KAPPA) -> Array:
    z = z.astype(np.float64)
    rows = np.arange(len(label))
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if kind == "ce":
        return -log_p[rows, label]
    if kind == "ce-targeted":
        return log_p[rows, label]
    others = z.copy()
    others[rows, label] = -np.inf
    best = others.max(axis=1)
    margin = best - z[rows, label] if kind == "cw" else z[rows, label] - best
    return np.minimum(margin, kappa)


@pytest.fixture(scope="module")
def net() -> Any:
    return tiny_mobilenet(np.random.default_rng(5), classes=6)


@pytest.mark.parametrize("kind", ["ce", "ce-targeted", "cw", "cw-targeted"])
def test_head_loss_and_gradient(net: Any, kind: str) -> None:
    rng = np.random.default_rng(11)
    x = rng.random((3, 3, 20, 20), dtype=np.float32)
    label = np.array([0, 3, 5], np.int64)
    compiled = compile_gradient_graph(net, loss=kind, kappa=KAPPA, batch=3, size=20)
    logits, loss, grad = session(compiled).run(["logits", "loss", "grad"], {"input": x, "label": label})
    np.testing.assert_allclose(loss, numpy_loss(kind, logits, label), rtol=1e-5, atol=1e-5)

    ref = ReferenceEvaluator(to_float64(net))

    def total(t: Array) -> float:
        return float(numpy_loss(kind, ref.run(["logits"], {"input": t})[0], label).sum())

    for _ in range(2):
        v = rng.standard_normal(x.shape)
        h = 1e-6
        want = (total(x + h * v) - total(x - h * v)) / (2 * h)
        got = float(np.sum(grad.astype(np.float64) * v))
        assert abs(got - want) <= 2e-4 * (np.sum(np.abs(grad * v)) + 1e-9), (kind, got, want)


def test_cw_gradient_vanishes_beyond_kappa(net: Any) -> None:
    """Samples whose margin already exceeds κ contribute no gradient (the loss is capped)."""
    x = np.random.default_rng(2).random((2, 3, 20, 20), dtype=np.float32)
    compiled = compile_gradient_graph(net, loss="cw", kappa=-1e9, batch=2, size=20)
    loss, grad = session(compiled).run(["loss", "grad"], {"input": x, "label": np.array([1, 2], np.int64)})
    assert np.all(loss == np.float32(-1e9))
    assert not grad.any()


def test_sum_over_batch_makes_gradients_batch_independent(net: Any) -> None:
    x = np.random.default_rng(3).random((2, 3, 20, 20), dtype=np.float32)
    label = np.array([4, 1], np.int64)
    both = session(compile_gradient_graph(net, loss="ce", batch=2, size=20)).run(
        ["grad"], {"input": x, "label": label}
    )[0]
    one = session(compile_gradient_graph(net, loss="ce", batch=1, size=20)).run(
        ["grad"], {"input": x[1:], "label": label[1:]}
    )[0]
    np.testing.assert_allclose(both[1:], one, rtol=1e-5, atol=1e-7)


def test_unknown_loss(net: Any) -> None:
    with pytest.raises(ParameterError, match="unknown loss 'xent'"):
        compile_gradient_graph(net, loss="xent", batch=1, size=20)


def test_l1_head_loss_and_gradient(net: Any) -> None:
    """Σ_k |z_k − t_k| per sample, read against a runtime `target` (no label input)."""
    rng = np.random.default_rng(12)
    x = rng.random((3, 3, 20, 20), dtype=np.float32)
    target = rng.standard_normal((3, 6)).astype(np.float32)
    compiled = compile_gradient_graph(net, loss="l1", batch=3, size=20)
    assert {i.name for i in compiled.graph.input} == {"input", "target"}
    logits, loss, grad = session(compiled).run(["logits", "loss", "grad"], {"input": x, "target": target})
    np.testing.assert_allclose(loss, np.abs(logits - target).sum(axis=1), rtol=1e-5)

    ref = ReferenceEvaluator(to_float64(net))

    def total(t: Array) -> float:
        return float(np.abs(ref.run(["logits"], {"input": t})[0] - target).sum())

    v = rng.standard_normal(x.shape)
    h = 1e-6
    want = (total(x + h * v) - total(x - h * v)) / (2 * h)
    got = float(np.sum(grad.astype(np.float64) * v))
    assert abs(got - want) <= 2e-4 * (np.sum(np.abs(grad * v)) + 1e-9), (got, want)
