"""BatchNormalization (inference) VJP."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from advengine.errors import GraphError
from advengine.graph import compile_gradient_graph

from ..conftest import check_vjp, make_model, rand


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


def test_training_mode_batchnorm_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(GraphError, match="training mode"):
        compile_gradient_graph(_bn(rng, 3, training_mode=1), loss="seed", batch=2)
