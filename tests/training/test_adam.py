"""Adam against the textbook update (float64), in place."""

from __future__ import annotations

import numpy as np

from advengine.training.adam import Adam


def reference(p: np.ndarray, grads: list[np.ndarray], lr: float) -> np.ndarray:
    """Kingma & Ba, Algorithm 1 (β1 = 0.9, β2 = 0.999, ε = 1e-8), in float64."""
    p, m, v = p.astype(np.float64), np.zeros(p.shape), np.zeros(p.shape)
    for t, g in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return p


def test_matches_the_textbook_update_in_place() -> None:
    rng = np.random.default_rng(0)
    p = rng.standard_normal((5, 3)).astype(np.float32)
    start = p.copy()
    grads = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(20)]
    adam = Adam({"w": p}, 0.01)
    for g in grads:
        adam.step({"w": g})
    assert adam.params["w"] is p  # the bound array itself was updated
    assert adam.t == 20
    np.testing.assert_allclose(p, reference(start, grads, 0.01), rtol=1e-5, atol=1e-6)


def test_load_restores_the_moments() -> None:
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4).astype(np.float32) for _ in range(6)]
    a = Adam({"w": np.ones(4, np.float32)}, 0.1)
    for g in grads:
        a.step({"w": g})
    b = Adam({"w": np.ones(4, np.float32)}, 0.1)
    for g in grads[:3]:
        b.step({"w": g})
    c = Adam({"w": b.params["w"].copy()}, 0.1)
    c.load(b.m, b.v, b.t)
    for g in grads[3:]:
        c.step({"w": g})
    np.testing.assert_array_equal(c.params["w"], a.params["w"])
