"""Fused steps equal the unfused numpy computation from the same graph's gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from advengine.errors import ParameterError
from advengine.graph import compile_gradient_graph

from .conftest import session, tiny_mobilenet

Array = np.ndarray[Any, Any]
TINY = np.float32(1e-30)


def numpy_step(
    kind: str, x: Array, x0: Array, g: Array, m: Array, eps: Array, alpha: Array, mu: float
) -> tuple[Array, Array | None]:
    e = eps.reshape(-1, 1, 1, 1)
    a = alpha.reshape(-1, 1, 1, 1)
    axes = (1, 2, 3)
    m_next = None
    if kind == "sign":
        d = np.sign(g)
    elif kind == "mifgsm":
        mean_abs = np.abs(g).mean(axis=axes, keepdims=True, dtype=np.float32)
        m_next = np.float32(mu) * m + g / np.maximum(mean_abs, TINY)
        d = np.sign(m_next)
    else:

        def standardise(t: Array) -> Array:
            std = t.std(axis=axes, keepdims=True, dtype=np.float32)
            return t / np.maximum(std, TINY)

        m_next = standardise(np.float32(mu) * m + standardise(g))
        d = np.clip(np.round(m_next), -2, 2)  # numpy rounds half to even, like ONNX Round
    moved = x + a * d
    return np.clip(np.minimum(np.maximum(moved, x0 - e), x0 + e), 0, 1).astype(np.float32), m_next


@pytest.mark.parametrize(
    ("kind", "loss"), [("sign", "ce"), ("mifgsm", "cw"), ("mifgsm-targeted", "ce-targeted")]
)
def test_fused_step_matches_numpy(kind: str, loss: str) -> None:
    rng = np.random.default_rng(4)
    net = tiny_mobilenet(rng, classes=5)
    compiled = compile_gradient_graph(net, loss=loss, kappa=10.0, batch=3, size=16, step=kind)
    sess = session(compiled)
    x0 = rng.random((3, 3, 16, 16), dtype=np.float32)
    x = np.clip(x0 + rng.uniform(-0.03, 0.03, x0.shape).astype(np.float32), 0, 1)
    eps = np.array([0.03, 0.05, 0.0], np.float32)
    alpha = np.array([0.01, 0.02, 0.01], np.float32)
    feed = {"input": x, "label": np.array([0, 2, 4], np.int64), "x0": x0, "eps": eps, "alpha": alpha}
    m = rng.standard_normal(x.shape).astype(np.float32)
    if kind != "sign":
        feed.update({"momentum": m, "mu": np.array(0.9, np.float32)})
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(names, feed), strict=True))
    want_x, want_m = numpy_step(kind, x, x0, out["grad"], m, eps, alpha, 0.9)
    np.testing.assert_array_equal(out["x_next"], want_x)
    if want_m is not None:
        np.testing.assert_allclose(out["m_next"], want_m, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(out["x_next"] - x0) <= eps.reshape(-1, 1, 1, 1) + 1e-7)


def test_targeted_tsail_step_takes_round_half_even_steps_of_at_most_two() -> None:
    rng = np.random.default_rng(9)
    net = tiny_mobilenet(rng, classes=5)
    sess = session(compile_gradient_graph(net, loss="ce-targeted", batch=2, size=16, step="mifgsm-targeted"))
    x0 = np.full((2, 3, 16, 16), 0.5, np.float32)
    alpha = np.float32(0.01)
    feed = {
        "input": x0,
        "label": np.array([1, 2], np.int64),
        "x0": x0,
        "eps": np.array([1.0, 1.0], np.float32),
        "alpha": np.array([alpha, alpha], np.float32),
        "momentum": np.zeros_like(x0),
        "mu": np.array(1.0, np.float32),
    }
    x_next = sess.run(["x_next"], feed)[0]
    steps = np.round((x_next - x0) / alpha).astype(int)
    assert set(np.unique(steps)) <= {-2, -1, 0, 1, 2}
    assert np.abs(steps).max() == 2


def test_step_needs_a_loss_head() -> None:
    net = tiny_mobilenet(np.random.default_rng(0))
    with pytest.raises(ParameterError, match="seed head"):
        compile_gradient_graph(net, loss="seed", batch=1, size=16, step="sign")
    with pytest.raises(ParameterError, match="unknown step"):
        compile_gradient_graph(net, loss="ce", batch=1, size=16, step="pgd2")
