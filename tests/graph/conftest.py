"""Test oracles for the gradient compiler: synthetic nets built with onnx.helper, a float64 copy run
through onnx.reference (pure numpy, any op), and central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from advengine.graph import compile_gradient_graph, param_grad_name

F32 = onnx.TensorProto.FLOAT
F64 = onnx.TensorProto.DOUBLE
Array = np.ndarray[Any, Any]


def to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with every float32 tensor, type and Cast target turned into float64."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for vi in [*g.input, *g.output, *g.value_info]:
        if vi.type.tensor_type.elem_type == F32:
            vi.type.tensor_type.elem_type = F64
    for i, init in enumerate(list(g.initializer)):
        if init.data_type == F32:
            g.initializer[i].CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name)
            )
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == F32:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
            if node.op_type == "Cast" and a.name == "to" and a.i == F32:
                a.i = F64
    return m


def make_model(
    nodes: list[onnx.NodeProto],
    inp: tuple[int | str, ...],
    inits: dict[str, Array],
    out: str = "logits",
    opset: int = 18,
    flatten: str | None = "y",
) -> onnx.ModelProto:
    """A model from ``nodes``; by default their output ``y`` is flattened to ``logits`` [N, -1], the
    shape a loss head needs."""
    if flatten is not None:
        nodes = [*nodes, helper.make_node("Flatten", [flatten], [out], axis=1)]
    graph = helper.make_graph(
        nodes,
        "test_net",
        [helper.make_tensor_value_info("input", F32, list(inp))],
        [helper.make_tensor_value_info(out, F32, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def seed_grad(model: onnx.ModelProto, x: Array, seed: Array, size: int | None = None) -> tuple[Array, Array]:
    """ORT float32 logits and the VJP seedᵀ·J through the compiled graph (seed head)."""
    compiled = compile_gradient_graph(model, loss="seed", batch=x.shape[0], size=size)
    logits, _, grad = session(compiled).run(["logits", "loss", "grad"], {"input": x, "seed": seed})
    return logits, grad


Reference = Callable[[Array], Array]
#: A float64 model oracle taking the image and every initializer's value by name.
ParamReference = Callable[[Array, dict[str, Array]], Array]


def fd_directional(
    model: onnx.ModelProto,
    x: Array,
    seed: Array,
    v: Array,
    h: float = 1e-6,
    reference: Reference | None = None,
) -> float:
    """Central difference of ⟨seed, f(x)⟩ along v, in float64 through onnx.reference, or through a
    float64 numpy ``reference`` of the model where onnx.reference computes in float32 internally."""
    if reference is None:
        ref = ReferenceEvaluator(to_float64(model))
        name = model.graph.output[0].name

        def reference(t: Array) -> Array:
            out: Array = ref.run([name], {"input": t})[0]
            return out

    def f(t: Array) -> float:
        return float(np.sum(seed.astype(np.float64) * reference(t)))

    x64 = x.astype(np.float64)
    return (f(x64 + h * v) - f(x64 - h * v)) / (2 * h)


def check_vjp(
    model: onnx.ModelProto,
    x: Array,
    *,
    directions: int = 2,
    rtol: float = 2e-4,
    rng: np.random.Generator | None = None,
    size: int | None = None,
    h: float = 1e-6,
    reference: Reference | None = None,
    atol: float = 0.0,
) -> None:
    """⟨grad, v⟩ from the compiled graph must match float64 finite differences along random v.
    ``atol`` is a per-element float32 noise floor (times Σ|v|) for VJPs that cancel, e.g. a
    saturated softmax's y·(dy − Σdy·y).
    The error is measured against Σ|grad·v| so that cancellation does not inflate it. ``h`` is the
    difference step: onnx.reference's Erf is a 1e-7 approximation, so Erf-based ops need h ≈ 1e-3."""
    rng = rng or np.random.default_rng(0)
    logits_shape = session(model).run(None, {"input": x})[0].shape
    seed = rng.standard_normal(logits_shape).astype(np.float32)
    _, grad = seed_grad(model, x, seed, size)
    assert grad.shape == x.shape
    for _ in range(directions):
        v = rng.standard_normal(x.shape)
        got = float(np.sum(grad.astype(np.float64) * v))
        want = fd_directional(model, x, seed, v, h, reference)
        scale = float(np.sum(np.abs(grad.astype(np.float64) * v))) + 1e-12
        assert abs(got - want) <= rtol * scale + atol * float(np.sum(np.abs(v))), (got, want, scale)


def check_adjoint(model: onnx.ModelProto, x: Array, rng: np.random.Generator, rtol: float = 1e-5) -> None:
    """For a *linear* model f (run by ORT itself): ⟨f(x), w⟩ = ⟨x, Jᵀw⟩. Used where onnx.reference is
    not a trustworthy oracle (it mis-averages ceil_mode AveragePool windows)."""
    y = session(model).run(None, {"input": x})[0].astype(np.float64)
    w = rng.standard_normal(y.shape).astype(np.float32)
    _, grad = seed_grad(model, x, w)
    lhs = float(np.sum(y * w))
    rhs = float(np.sum(x.astype(np.float64) * grad))
    scale = float(np.sum(np.abs(y * w))) + 1e-12
    assert abs(lhs - rhs) <= rtol * scale, (lhs, rhs, scale)


def initializer_values(model: onnx.ModelProto) -> dict[str, Array]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def params_as_inputs(model: onnx.ModelProto, params: list[str]) -> onnx.ModelProto:
    """A copy in which the initializers ``params`` are graph inputs instead (same name, type, shape)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [i for i in m.graph.initializer if i.name not in params]
    for init in m.graph.initializer:
        if init.name in params:
            m.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def param_grads(
    model: onnx.ModelProto,
    x: Array,
    seed: Array,
    params: list[str],
    *,
    input_grad: bool = False,
    size: int | None = None,
) -> dict[str, Array]:
    """d⟨seed, logits⟩/d p for each parameter p through the compiled graph (seed head), the parameters
    fed at their initializer values."""
    compiled = compile_gradient_graph(
        model, loss="seed", batch=x.shape[0], size=size, wrt_params=params, input_grad=input_grad
    )
    inits = initializer_values(model)
    feeds = {"input": x, "seed": seed, **{p: inits[p] for p in params}}
    outs = session(compiled).run([param_grad_name(p) for p in params], feeds)
    return dict(zip(params, outs, strict=True))


def check_param_vjp(
    model: onnx.ModelProto,
    x: Array,
    params: list[str],
    *,
    rtol: float = 2e-4,
    rng: np.random.Generator | None = None,
    h: float = 1e-6,
    input_grad: bool = False,
    reference: ParamReference | None = None,
    size: int | None = None,
) -> None:
    """⟨d⟨seed, logits⟩/dp, v⟩ from the compiled graph must match float64 central differences along a
    random v for every parameter p, through onnx.reference on a float64 copy with p as an input, or
    through a float64 numpy ``reference`` (x, {initializer: value}) -> logits where onnx.reference is
    wrong (its grouped ConvTranspose)."""
    rng = rng or np.random.default_rng(0)
    logits_shape = session(model).run(None, {"input": x})[0].shape
    seed = rng.standard_normal(logits_shape).astype(np.float32)
    grads = param_grads(model, x, seed, params, input_grad=input_grad, size=size)
    if reference is None:
        ref = ReferenceEvaluator(to_float64(params_as_inputs(model, params)))
        out = model.graph.output[0].name

        def reference(t: Array, values: dict[str, Array]) -> Array:
            y: Array = ref.run([out], {"input": t, **{p: values[p] for p in params}})[0]
            return y

    base = {p: v.astype(np.float64) for p, v in initializer_values(model).items()}
    x64 = x.astype(np.float64)
    for p in params:
        assert grads[p].shape == base[p].shape, (p, grads[p].shape, base[p].shape)
        v = rng.standard_normal(base[p].shape)

        def f(t: Array, p: str = p) -> float:
            return float(np.sum(seed.astype(np.float64) * reference(x64, {**base, p: t})))

        want = (f(base[p] + h * v) - f(base[p] - h * v)) / (2 * h)
        got = float(np.sum(grads[p].astype(np.float64) * v))
        scale = float(np.sum(np.abs(grads[p].astype(np.float64) * v))) + 1e-12
        assert abs(got - want) <= rtol * scale, (p, got, want, scale)


def rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> Array:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def tiny_mobilenet(rng: np.random.Generator, channels: int = 8, classes: int = 10) -> onnx.ModelProto:
    """The research doc's test net: normalisation, Conv+BN+Clip, MaxPool, depthwise Conv, swish,
    1×1 Conv, residual Add, GlobalAveragePool, Flatten, Gemm."""
    c = channels
    inits = {
        "mean": np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1),
        "std": np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1),
        "w1": rand(rng, c, 3, 3, 3, scale=0.3),
        "bn_s": (1 + 0.1 * rng.standard_normal(c)).astype(np.float32),
        "bn_b": rand(rng, c, scale=0.1),
        "bn_m": rand(rng, c, scale=0.1),
        "bn_v": (0.5 + rng.random(c)).astype(np.float32),
        "lo": np.array(0.0, np.float32),
        "hi": np.array(6.0, np.float32),
        "wd": rand(rng, c, 1, 3, 3, scale=0.3),
        "w2": rand(rng, c, c, 1, 1, scale=0.3),
        "fc": rand(rng, classes, c, scale=0.3),
        "fcb": rand(rng, classes, scale=0.1),
    }
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["n0"]),
        helper.make_node("Div", ["n0", "std"], ["n1"]),
        helper.make_node(
            "Conv", ["n1", "w1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
        ),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["b1"]),
        helper.make_node("Clip", ["b1", "lo", "hi"], ["a1"]),
        helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "wd"], ["d1"], kernel_shape=[3, 3], group=c, pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["d1"], ["s1"]),
        helper.make_node("Mul", ["d1", "s1"], ["sw"]),
        helper.make_node("Conv", ["sw", "w2"], ["c2"], kernel_shape=[1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], transB=1),
    ]
    return make_model(nodes, ("N", 3, "H", "W"), inits, flatten=None)
