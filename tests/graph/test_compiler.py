"""The compiler end to end on the research doc's MobileNet-like net, and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from advengine.errors import GraphError, ParameterError, UnsupportedOpError
from advengine.graph import compile_gradient_graph, param_grad_name, trainable_params
from advengine.graph.forward import TARGET_OPSET

from .conftest import (
    F32,
    check_param_vjp,
    check_vjp,
    initializer_values,
    make_model,
    param_grads,
    rand,
    session,
    tiny_mobilenet,
)


def test_tiny_mobilenet_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    net = tiny_mobilenet(rng)
    x = rng.random((2, 3, 32, 32), dtype=np.float32)
    check_vjp(net, x, size=32, directions=3, rng=rng, rtol=1e-4)


def test_compiled_graph_interface() -> None:
    net = tiny_mobilenet(np.random.default_rng(0), classes=10)
    g = compile_gradient_graph(net, loss="ce", batch=4, size=32)
    ins = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in g.graph.input}
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.graph.output}
    assert ins == {"input": [4, 3, 32, 32], "label": [4]}
    assert outs == {"logits": [4, 10], "loss": [4], "grad": [4, 3, 32, 32]}
    assert {n.domain for n in g.graph.node} <= {""}
    assert {o.version for o in g.opset_import if o.domain == ""} == {TARGET_OPSET}


def test_old_opset_is_upgraded() -> None:
    rng = np.random.default_rng(1)
    node = helper.make_node("ReduceMean", ["input"], ["y"], axes=[2, 3], keepdims=1)
    model = make_model([node], (2, 3, 4, 4), {}, opset=13)
    check_vjp(model, rand(rng, 2, 3, 4, 4), rng=rng)


def test_unsupported_op_names_op_node_and_model_before_running() -> None:
    # com.microsoft:FusedConv cannot even be loaded here: the error must come from the structural pass.
    nodes = [
        helper.make_node("Sin", ["input"], ["e"], name="sin_0"),
        helper.make_node("Identity", ["e"], ["y"]),
    ]
    model = make_model(nodes, (1, 4), {})
    model.graph.name = "sinnet"
    with pytest.raises(UnsupportedOpError, match=r"sinnet: op Sin \(node 'sin_0'\) has no gradient rule"):
        compile_gradient_graph(model, batch=1)
    custom = make_model(
        [helper.make_node("FusedGemm", ["input"], ["y"], domain="com.microsoft", name="fg")], (1, 4), {}
    )
    custom.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedOpError, match=r"com\.microsoft:FusedGemm"):
        compile_gradient_graph(custom, batch=1)


def test_ops_off_the_gradient_path_need_no_rule() -> None:
    """A Shape→Gather→Concat→Reshape subgraph only feeds Reshape's shape input: no rule is needed."""
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("Shape", ["input"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
        helper.make_node("Erf", ["input"], ["unused"]),
        helper.make_node("Tanh", ["input"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["logits"]),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "zero1": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
    }
    check_vjp(make_model(nodes, ("N", 2, 3), inits, flatten=None), rand(rng, 2, 2, 3), rng=rng)


def test_non_float_input_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input"], ["logits"], to=F32)],
        "u8",
        [helper.make_tensor_value_info("input", onnx.TensorProto.UINT8, [1, 4])],
        [helper.make_tensor_value_info("logits", F32, None)],
    )
    with pytest.raises(GraphError, match="is UINT8, not FLOAT"):
        compile_gradient_graph(helper.make_model(graph), batch=1)


def test_dynamic_shape_that_cannot_be_fixed() -> None:
    net = tiny_mobilenet(np.random.default_rng(0))
    with pytest.raises(GraphError, match="dynamic dimension 2"):
        compile_gradient_graph(net, batch=1)
    rank3 = make_model([helper.make_node("Relu", ["input"], ["y"])], ("N", "T", 4), {})
    with pytest.raises(GraphError, match="dynamic dimension 1"):
        compile_gradient_graph(rank3, batch=1, size=8)


def test_fixed_batch_mismatch() -> None:
    model = make_model([helper.make_node("Relu", ["input"], ["y"])], (2, 4), {})
    with pytest.raises(GraphError, match="fixed batch of 2"):
        compile_gradient_graph(model, batch=3)


def test_output_independent_of_input() -> None:
    nodes = [helper.make_node("Identity", ["c"], ["logits"])]
    model = make_model(nodes, (1, 4), {"c": np.ones((1, 4), np.float32)}, flatten=None)
    model.graph.node.insert(0, helper.make_node("Relu", ["input"], ["unused"]))
    with pytest.raises(GraphError, match="do not depend on input"):
        compile_gradient_graph(model, batch=1)


def test_user_tensor_names_never_clash_with_the_compiled_graphs() -> None:
    """A BatchNorm mean called `mu`, an internal `logits`, an input called `label`: all compile, with
    the same gradient as the unclashing model."""
    rng = np.random.default_rng(3)
    inits = {
        "s": np.ones(2, np.float32),
        "b": np.zeros(2, np.float32),
        "mu": np.array([0.1, -0.2], np.float32),
        "var": np.array([1.5, 0.5], np.float32),
    }
    nodes = [
        helper.make_node("BatchNormalization", ["label", "s", "b", "mu", "var"], ["logits"]),
        helper.make_node("Relu", ["logits"], ["grad"]),
        helper.make_node("Flatten", ["grad"], ["loss"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "clash",
        [helper.make_tensor_value_info("label", F32, ["N", 2, 3, 3])],
        [helper.make_tensor_value_info("loss", F32, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    compiled = compile_gradient_graph(model, loss="seed", batch=2)
    assert [i.name for i in compiled.graph.input] == ["input", "seed"]
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    seed = rng.standard_normal((2, 18)).astype(np.float32)
    _, grad = session(compiled).run(["logits", "grad"], {"input": x, "seed": seed})
    scale = inits["s"] / np.sqrt(inits["var"] + 1e-5)
    z = (x - inits["mu"].reshape(1, 2, 1, 1)) * scale.reshape(1, 2, 1, 1)
    want = seed.reshape(x.shape) * (z > 0) * scale.reshape(1, 2, 1, 1)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="not found"):
        compile_gradient_graph(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model\xff" * 10)
    with pytest.raises(GraphError, match="not a readable ONNX model"):
        compile_gradient_graph(junk)


def test_logits_must_be_two_dimensional() -> None:
    model = make_model([helper.make_node("Relu", ["input"], ["logits"])], (1, 2, 3), {}, flatten=None)
    with pytest.raises(GraphError, match=r"expected logits \[batch, classes\]"):
        compile_gradient_graph(model, batch=1)


@pytest.mark.parametrize("input_grad", [False, True])
def test_tiny_mobilenet_parameter_gradients_match_finite_differences(input_grad: bool) -> None:
    """Every trainable parameter of the test net (Conv, depthwise Conv, BN, Gemm) at once."""
    rng = np.random.default_rng(2)
    net = tiny_mobilenet(rng)
    x = rng.random((2, 3, 16, 16), dtype=np.float32)
    check_param_vjp(net, x, trainable_params(net), size=16, rng=rng, rtol=1e-4, input_grad=input_grad)


def test_parameter_graph_interface() -> None:
    """Parameters leave the initializers and become float32 inputs of their own shape; each gets a
    `grad/NAME` output of the same shape; without the input gradient there is no `grad` output."""
    net = tiny_mobilenet(np.random.default_rng(0), classes=10)
    g = compile_gradient_graph(net, loss="l1", batch=4, size=32, wrt_params=["w1", "fcb"], input_grad=False)

    def dims(vi: onnx.ValueInfoProto) -> list[int | str]:
        return [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]

    assert {i.name: dims(i) for i in g.graph.input} == {
        "input": [4, 3, 32, 32],
        "target": [4, "classes"],
        "w1": [8, 3, 3, 3],
        "fcb": [10],
    }
    assert {o.name: dims(o) for o in g.graph.output} == {
        "logits": [4, 10],
        "loss": [4],
        "grad/w1": [8, 3, 3, 3],
        "grad/fcb": [10],
    }
    assert all(i.type.tensor_type.elem_type == F32 for i in g.graph.input if i.name != "target")
    assert not {"w1", "fcb"} & {i.name for i in g.graph.initializer}
    props = {p.key: p.value for p in g.metadata_props}
    assert props["advengine.wrt_params"] == '["w1", "fcb"]'
    assert props["advengine.input_grad"] == "false"


def test_parameters_are_runtime_values_not_baked_constants() -> None:
    """Fed other parameter values, the graph must give what a graph compiled with those values baked
    in gives: logits, loss, input gradient and parameter gradients."""
    rng = np.random.default_rng(3)
    net = tiny_mobilenet(rng)
    params = trainable_params(net)
    x = rng.random((2, 3, 16, 16), dtype=np.float32)
    values = {
        p: (v * 1.5 + 0.1).astype(np.float32) for p, v in initializer_values(net).items() if p in params
    }
    moved = onnx.ModelProto()
    moved.CopyFrom(net)
    for init in moved.graph.initializer:
        if init.name in values:
            init.CopyFrom(numpy_helper.from_array(values[init.name], init.name))
    names = ["logits", "loss", "grad", *(param_grad_name(p) for p in params)]
    seed = rand(rng, 2, 10)
    fed = compile_gradient_graph(net, loss="seed", batch=2, size=16, wrt_params=params)
    got = session(fed).run(names, {"input": x, "seed": seed, **values})
    baked = compile_gradient_graph(moved, loss="seed", batch=2, size=16, wrt_params=params)
    want = session(baked).run(names, {"input": x, "seed": seed, **values})
    for name, a, b in zip(names, got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_l1_head_is_descended_by_its_parameter_gradient() -> None:
    """The trainer's use: a step against grad/w with the l1 head lowers Σ|logits − target|."""
    rng = np.random.default_rng(4)
    net = tiny_mobilenet(rng)
    x = rng.random((2, 3, 16, 16), dtype=np.float32)
    target = rand(rng, 2, 10)
    params = trainable_params(net)
    g = session(compile_gradient_graph(net, loss="l1", batch=2, size=16, wrt_params=params, input_grad=False))
    values = {p: v for p, v in initializer_values(net).items() if p in params}
    names = ["loss", *(param_grad_name(p) for p in params)]
    loss, *grads = g.run(names, {"input": x, "target": target, **values})
    stepped = {p: values[p] - 1e-3 * gp for p, gp in zip(params, grads, strict=True)}
    after = g.run(["loss"], {"input": x, "target": target, **stepped})[0]
    assert after.sum() < loss.sum()


def test_image_path_needs_no_rule_without_the_input_gradient() -> None:
    """Without d/dx, ops between the image and the first parameter are never differentiated."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Sin", ["input"], ["s"]),
        helper.make_node("Conv", ["s", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2]),
    ]
    model = make_model(nodes, (2, 3, 7, 7), {"w": rand(rng, 4, 3, 3, 3), "b": rand(rng, 4)})
    with pytest.raises(UnsupportedOpError, match="op Sin"):
        compile_gradient_graph(model, loss="seed", batch=2, wrt_params=["w"])
    g = compile_gradient_graph(model, loss="seed", batch=2, wrt_params=["w", "b"], input_grad=False)
    assert "ConvTranspose" not in {n.op_type for n in g.graph.node}  # no dX was built
    check_param_vjp(model, rand(rng, 2, 3, 7, 7), ["w", "b"], rng=rng)


def test_parameter_the_loss_does_not_use_gets_zeros() -> None:
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("Mul", ["input", "k"], ["y"]), helper.make_node("Add", ["unused", "k"], ["z"])]
    model = make_model(nodes, (2, 3), {"k": rand(rng, 3), "unused": rand(rng, 3)})
    grads = param_grads(model, rand(rng, 2, 3), rand(rng, 2, 3), ["unused"])
    assert grads["unused"].shape == (3,)
    assert not grads["unused"].any()


def test_parameter_without_a_rule_for_its_gradient_is_refused() -> None:
    """Clip gives no gradient to its bounds: training one must fail, not return a partial gradient."""
    nodes = [helper.make_node("Clip", ["input", "lo", "hi"], ["y"], name="clip")]
    model = make_model(nodes, (2, 3), {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)})
    with pytest.raises(GraphError, match=r"Clip node 'clip' has no gradient for its input 'hi'"):
        compile_gradient_graph(model, loss="seed", batch=2, wrt_params=["hi"])


def test_parameter_option_errors() -> None:
    net = tiny_mobilenet(np.random.default_rng(0))
    with pytest.raises(ParameterError, match="nothing to differentiate"):
        compile_gradient_graph(net, batch=1, size=16, input_grad=False)
    with pytest.raises(ParameterError, match="needs the input gradient"):
        compile_gradient_graph(net, batch=1, size=16, step="sign", wrt_params=["w1"], input_grad=False)
    with pytest.raises(ParameterError, match="'w9' is not an initializer"):
        compile_gradient_graph(net, batch=1, size=16, wrt_params=["w9"])


def test_parameter_with_a_reserved_name() -> None:
    """A parameter called like a compiled-graph name is renamed like any model tensor."""
    rng = np.random.default_rng(8)
    model = make_model([helper.make_node("Mul", ["input", "mu"], ["y"])], (2, 3), {"mu": rand(rng, 3)})
    g = compile_gradient_graph(model, loss="seed", batch=2, wrt_params=["mu"])
    assert "mu.model" in {i.name for i in g.graph.input}
    assert "grad/mu.model" in {o.name for o in g.graph.output}
