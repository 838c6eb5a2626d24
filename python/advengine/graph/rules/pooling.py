"""Pooling and reductions.

MaxPool uses the deterministic *mask* form: pad with −inf, take the k² strided window slices, pick the
first maximum with ArgMax, and scatter dY back with a grouped one-hot ConvTranspose (a col2im that ORT
runs on CPU and CUDA, with no Indices output and no atomics, so results are bit-reproducible).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, input_rule, output_rule
from advengine.graph.rules.conv import Geometry, conv_transpose, resolve_pads


def _window_geometry(
    ctx: RuleContext, node: onnx.NodeProto
) -> tuple[
    tuple[int, ...], tuple[int, ...], list[int], list[int], list[int], list[int], list[int], list[int]
]:
    """Input/output spatial sizes, kernel, strides, dilations, begin pads, the end pads that exactly cover
    every window ORT computed (this absorbs ceil_mode), and the ConvTranspose output_padding."""
    a = attrs(node)
    xs, ys = ctx.shape(node.input[0]), ctx.shape(node.output[0])
    if len(xs) < 3:
        raise GraphError(f"{ctx.model_name}: {node.op_type} {node.name!r} needs an N×C×spatial input")
    n = len(xs) - 2
    kernel = [int(k) for k in a["kernel_shape"]]
    strides = [int(s) for s in a.get("strides", [1] * n)]
    dil = [int(d) for d in a.get("dilations", [1] * n)]
    pb, _ = resolve_pads(a, xs[2:], kernel, strides, dil)
    in_sp, out_sp = xs[2:], ys[2:]
    pe = [
        max(0, (out_sp[i] - 1) * strides[i] + dil[i] * (kernel[i] - 1) + 1 - in_sp[i] - pb[i])
        for i in range(n)
    ]
    op = [
        in_sp[i] + pb[i] + pe[i] - ((out_sp[i] - 1) * strides[i] + dil[i] * (kernel[i] - 1) + 1)
        for i in range(n)
    ]
    return in_sp, out_sp, kernel, strides, dil, pb, pe, op


def _scatter_back(
    ctx: RuleContext,
    values: str,
    weight: np.ndarray[Any, Any],
    channels: int,
    geo: tuple[Any, ...],
) -> str:
    _, _, kernel, strides, dil, pb, pe, op = geo
    w = ctx.b.const(weight, hint="col2im_kernel")
    return conv_transpose(ctx, values, w, Geometry(kernel, strides, dil, pb, pe, channels), op, "pool_grad")


@output_rule("MaxPool")
def max_pool(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    b, x = ctx.b, node.input[0]
    xs = ctx.shape(x)
    geo = _window_geometry(ctx, node)
    _, out_sp, kernel, strides, dil, pb, pe, _ = geo
    n = len(kernel)
    batch, channels = xs[0], xs[1]
    padded = x
    if any(pb) or any(pe):
        pads = [0, 0, *pb, 0, 0, *pe]
        padded = b.op("Pad", [x, b.ints(pads), b.const(-np.inf)], "pool_pad", mode="constant")
    axes = list(range(2, 2 + n))
    slices = []
    for offs in itertools.product(*[range(k) for k in kernel]):
        starts = [offs[i] * dil[i] for i in range(n)]
        ends = [starts[i] + (out_sp[i] - 1) * strides[i] + 1 for i in range(n)]
        s = b.op("Slice", [padded, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(strides)], "window")
        slices.append(b.op("Unsqueeze", [s, b.ints([2])]))
    k2 = len(slices)
    stack = slices[0] if k2 == 1 else b.op("Concat", slices, "windows", axis=2)
    # ArgMax takes the first maximum, like PyTorch; an Equal(x, y) mask would double-count ties (and
    # after a ReLU there are many exact ties at 0).
    first = b.op("ArgMax", [stack], axis=2, keepdims=1, select_last_index=0)
    positions = np.arange(k2, dtype=np.int64).reshape((1, 1, k2) + (1,) * n)
    mask = b.op("Equal", [first, b.const(positions, np.int64, "window_pos")])
    picked = b.op("Where", [mask, b.op("Unsqueeze", [dy, b.ints([2])]), b.const(0.0)])
    flat = b.reshape(picked, (batch, channels * k2, *out_sp))
    weight = np.zeros((channels * k2, 1, *kernel), np.float32)
    for c in range(channels):
        for j, offs in enumerate(itertools.product(*[range(k) for k in kernel])):
            weight[(c * k2 + j, 0, *offs)] = 1.0
    return [_scatter_back(ctx, flat, weight, channels, geo)]


def _avg_pool_weights(
    node: onnx.NodeProto, xs: tuple[int, ...], geo: tuple[Any, ...]
) -> np.ndarray[Any, Any]:
    """1/divisor for every output window. ORT's divisor (count_include_pad, ceil_mode windows) is read
    off by pooling a tensor of ones with the node's own attributes and dividing by the in-bounds count."""
    in_sp, out_sp, kernel, strides, dil, pb, _, _ = geo
    one = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, *in_sp])
    out = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    probe = helper.make_node("AveragePool", ["x"], ["y"], **attrs(node))
    model = helper.make_model(
        helper.make_graph([probe], "avgpool_probe", [one], [out]),
        opset_imports=[helper.make_opsetid("", 19)],
        ir_version=9,
    )
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ratio = sess.run(None, {"x": np.ones((1, 1, *in_sp), np.float32)})[0].astype(np.float64)
    counts = np.ones(out_sp, np.float64)
    for i in range(len(in_sp)):
        pos = np.arange(out_sp[i])[:, None] * strides[i] - pb[i] + np.arange(kernel[i])[None, :] * dil[i]
        valid = ((pos >= 0) & (pos < in_sp[i])).sum(axis=1).astype(np.float64)
        shape = [1] * len(in_sp)
        shape[i] = out_sp[i]
        counts = counts * valid.reshape(shape)
    w = np.divide(ratio.reshape(out_sp), counts, out=np.zeros(out_sp), where=counts > 0)
    weights: np.ndarray[Any, Any] = w.reshape((1, 1, *out_sp)).astype(np.float32)
    return weights


@output_rule("AveragePool")
def average_pool(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    xs = ctx.shape(node.input[0])
    geo = _window_geometry(ctx, node)
    kernel = geo[2]
    w = _avg_pool_weights(node, xs, geo)
    scaled = ctx.b.mul(dy, ctx.b.const(w, hint="avgpool_divisor"))
    ones = np.ones((xs[1], 1, *kernel), np.float32)
    return [_scatter_back(ctx, scaled, ones, xs[1], geo)]


@output_rule("GlobalAveragePool")
def global_average_pool(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    xs = ctx.shape(node.input[0])
    scaled = ctx.b.mul(dy, ctx.b.const(1.0 / float(np.prod(xs[2:]))))
    return [ctx.b.op("Expand", [scaled, ctx.b.ints(list(xs))], "gap_grad")]


def _reduce_axes(ctx: RuleContext, node: onnx.NodeProto) -> tuple[list[int], bool]:
    a = attrs(node)
    rank = len(ctx.shape(node.input[0]))
    if "axes" in a:
        axes = [int(v) for v in a["axes"]]
    elif len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in ctx.value(node.input[1], node).reshape(-1)]
    else:
        axes = []
    if not axes:
        axes = [] if int(a.get("noop_with_empty_axes", 0)) else list(range(rank))
    return sorted(v % rank for v in axes), bool(int(a.get("keepdims", 1)))


def _reduce_grad(ctx: RuleContext, node: onnx.NodeProto, dy: str, mean: bool) -> Grads:
    xs = ctx.shape(node.input[0])
    axes, _ = _reduce_axes(ctx, node)
    if not axes:
        return [dy] + [None] * (len(node.input) - 1)
    kept = tuple(1 if i in axes else d for i, d in enumerate(xs))
    g = ctx.b.reshape(dy, kept)
    if mean:
        g = ctx.b.mul(g, ctx.b.const(1.0 / float(np.prod([xs[i] for i in axes]))))
    return [ctx.b.op("Expand", [g, ctx.b.ints(list(xs))], "reduce_grad")] + [None] * (len(node.input) - 1)


@output_rule("ReduceMean")
def reduce_mean(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    return _reduce_grad(ctx, node, dy, mean=True)


@output_rule("ReduceSum")
def reduce_sum(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    return _reduce_grad(ctx, node, dy, mean=False)


def _broadcast_back(ctx: RuleContext, node: onnx.NodeProto, t: str) -> str:
    """A reduction's output (or its gradient) reshaped to keepdims form, so it broadcasts against x."""
    xs = ctx.shape(node.input[0])
    axes, _ = _reduce_axes(ctx, node)
    return ctx.b.reshape(t, tuple(1 if i in axes else d for i, d in enumerate(xs)))


@input_rule("ReduceMax", "ReduceMin")
def reduce_extreme(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # Ties share the gradient evenly, like PyTorch's amax/amin.
    b, x = ctx.b, node.input[0]
    axes, _ = _reduce_axes(ctx, node)
    if not axes:
        return dy
    hit = b.op(
        "Cast", [b.op("Equal", [x, _broadcast_back(ctx, node, node.output[0])])], to=onnx.TensorProto.FLOAT
    )
    count = b.op("ReduceSum", [hit, b.ints(axes)], keepdims=1)
    share = b.op("Div", [_broadcast_back(ctx, node, dy), count])
    return b.mul(hit, share)


@input_rule("ReduceL2")
def reduce_l2(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # y = ‖x‖: dx = dy·x / y, and 0 where y = 0 (PyTorch's norm subgradient).
    b, x = ctx.b, node.input[0]
    y = _broadcast_back(ctx, node, node.output[0])
    safe = b.op("Where", [b.op("Greater", [y, b.const(0.0)]), y, b.const(np.inf)])
    return b.mul(x, b.op("Div", [_broadcast_back(ctx, node, dy), safe]))


@input_rule("ReduceSumSquare")
def reduce_sum_square(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, x = ctx.b, node.input[0]
    return b.mul(b.mul(x, b.const(2.0)), _broadcast_back(ctx, node, dy))
