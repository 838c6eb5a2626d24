"""The default parameter set, checking a requested one, and the gradient output names."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from advengine.errors import ParameterError
from advengine.graph import param_grad_name, trainable_params
from advengine.graph.params import check_params

from .conftest import make_model, rand, tiny_mobilenet


def test_trainable_params_of_the_test_net_in_graph_order() -> None:
    """Conv weights, BN scale and shift, Gemm weight and bias; not the BN statistics, the Clip bounds
    or the Sub/Div normalisation constants."""
    net = tiny_mobilenet(np.random.default_rng(0))
    assert trainable_params(net) == ["w1", "bn_s", "bn_b", "wd", "w2", "fc", "fcb"]


def test_trainable_params_cover_every_listed_op_and_skip_non_floats() -> None:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Mul", ["input", "gain"], ["a"]),
        helper.make_node("ConvTranspose", ["a", "tw", "tb"], ["b"], kernel_shape=[2, 2]),
        helper.make_node("InstanceNormalization", ["b", "is", "ib"], ["c"]),
        helper.make_node("LayerNormalization", ["c", "ls", "lb"], ["d"], axis=-1),
        helper.make_node("Add", ["d", "shift"], ["e"]),
        helper.make_node("Reshape", ["e", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "mw"], ["y"]),
    ]
    inits = {
        "gain": rand(rng, 1, 2, 1, 1),
        "tw": rand(rng, 2, 3, 2, 2),
        "tb": rand(rng, 3),
        "is": rand(rng, 3),
        "ib": rand(rng, 3),
        "ls": rand(rng, 5),
        "lb": rand(rng, 5),
        "shift": rand(rng, 5),
        "shape": np.array([1, -1], np.int64),
        "mw": rand(rng, 60, 4),
    }
    model = make_model(nodes, (1, 2, 3, 4), inits)
    assert trainable_params(model) == ["gain", "tw", "tb", "is", "ib", "ls", "lb", "shift", "mw"]


def test_check_params_refuses_unknown_and_non_float_names() -> None:
    net = tiny_mobilenet(np.random.default_rng(0))
    with pytest.raises(ParameterError, match=r"net: parameter 'nope' is not an initializer.*w1, bn_s"):
        check_params(net, "net", ["nope"])
    net.graph.initializer.append(helper.make_tensor("steps", 7, [1], [3]))  # INT64
    with pytest.raises(ParameterError, match="'steps' is INT64; only float32"):
        check_params(net, "net", ["steps"])
    assert check_params(net, "net", ["fc", "w1", "fc"]) == ["fc", "w1"]


def test_param_grad_name() -> None:
    assert param_grad_name("conv1.weight") == "grad/conv1.weight"
