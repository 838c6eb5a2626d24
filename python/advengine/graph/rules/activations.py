"""Pointwise activations. Masks are taken from the activation's *output* where that is exact, so that
ORT can still fuse Conv + activation in the forward part of the graph."""

from __future__ import annotations

import math

import numpy as np
import onnx

from advengine.graph.rules.base import RuleContext, attrs, input_rule


def _zero(ctx: RuleContext) -> str:
    return ctx.b.const(0.0, hint="zero")


#: A bound of an activation's pass-through interval: its tensor name and, when constant, its value.
Bound = tuple[str, float | None]


def _bound(ctx: RuleContext, node: onnx.NodeProto, i: int) -> Bound | None:
    """Input ``i`` of ``node`` as a bound, None when the input is absent."""
    if len(node.input) <= i or not node.input[i]:
        return None
    name = node.input[i]
    v = np.asarray(ctx.values[name]) if name in ctx.values else None
    return name, (float(v.reshape(-1)[0]) if v is not None and v.size == 1 else None)


def _side(ctx: RuleContext, y: str, bound: float, above: bool) -> str:
    """[y > bound] (``above``) or [y < bound] as 0.0/1.0 for an NCHW tensor ``y``: a depthwise 1×1 Conv
    computing ±2^e·(y − bound), then Clip to [0, 1], with e = 126 − ⌈log2 max(|bound|, 1)⌉ so that the
    bias 2^e·bound is finite. y on the bound gives 0 exactly; y on the open side gives ≥ 1 whenever
    |y − bound| ≥ 2^−e (an overflow to inf is clipped to 1 like any large value). For a non-zero bound
    that holds for every float (|y − bound| ≥ half an ulp of the bound); for a zero bound it fails only
    for subnormal y (below 2^−126 ≈ 1.2e−38), whose factor is 2^126·y < 1 instead of 1.

    ORT fuses the Clip into the Conv and keeps both in its blocked NCHWc layout beside the model's own
    convolutions. Greater/Less/And/Where instead forced reorders to NCHW around every activation, and
    ORT's Where (it broadcasts the scalar zero element by element) alone took 41 % of a Lite0 gradient
    step (docs/benchmarks.md)."""
    b, c = ctx.b, ctx.shape(y)[1]
    exp = 126 - math.ceil(math.log2(max(abs(bound), 1.0)))
    scale = 2.0**exp * (1.0 if above else -1.0)
    w = b.const(np.full((c, 1, 1, 1), scale, np.float32), hint="mask_w")
    bias = b.const(np.full((c,), -scale * bound, np.float32), hint="mask_b")
    pre = b.op("Conv", [y, w, bias], "mask", group=c, kernel_shape=[1, 1])
    return b.op("Clip", [pre, _zero(ctx), b.const(1.0)], "mask")


def _masked(ctx: RuleContext, dy: str, y: str, lo: Bound | None, hi: Bound | None, hint: str) -> str:
    """dy where lo < y < hi (either bound optional, strict), else 0: Mul by :func:`_side` masks for
    rank-4 outputs with constant bounds, else Mul by Cast(Greater/Less/And) (5× faster than Where)."""
    b = ctx.b
    if len(ctx.shape(y)) == 4 and all(v[1] is not None for v in (lo, hi) if v is not None):
        out = dy
        for bound, above in ((lo, True), (hi, False)):
            if bound is not None and bound[1] is not None:
                out = b.op("Mul", [out, _side(ctx, y, bound[1], above)], hint)
        return out
    masks = []
    if lo is not None:
        masks.append(b.op("Greater", [y, lo[0]]))
    if hi is not None:
        masks.append(b.op("Less", [y, hi[0]]))
    mask = masks[0] if len(masks) == 1 else b.op("And", masks)
    return b.op("Mul", [dy, b.op("Cast", [mask], to=onnx.TensorProto.FLOAT)], hint)


@input_rule("Relu")
def relu(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return _masked(ctx, dy, node.output[0], (_zero(ctx), 0.0), None, "relu_grad")


@input_rule("Clip")
def clip(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # Gradient passes strictly inside (min, max), like PyTorch's hardtanh/ReLU6 backward. With y = clip(x),
    # y > min ⇔ x > min, so the output gives the exact mask.
    lo, hi = _bound(ctx, node, 1), _bound(ctx, node, 2)
    if lo is None and hi is None:
        return dy
    return _masked(ctx, dy, node.output[0], lo, hi, "clip_grad")


@input_rule("LeakyRelu")
def leaky_relu(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b = ctx.b
    alpha = float(attrs(node).get("alpha", 0.01))
    mask = b.op("Greater", [node.input[0], _zero(ctx)])
    return b.op("Where", [mask, dy, b.mul(dy, b.const(alpha))], "leaky_relu_grad")


@input_rule("Sigmoid")
def sigmoid(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, y = ctx.b, node.output[0]
    one_minus = b.op("Sub", [b.const(1.0), y])
    return b.mul(dy, b.mul(y, one_minus))


@input_rule("Tanh")
def tanh(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # dy / cosh²(x) from the input: 1 − y² from the float32 output loses the derivative to rounding near
    # saturation (y within an ulp of ±1: a relative error of 1e-3 at |x| ≈ 5, found by the finite-
    # difference test). cosh overflows to inf beyond |x| ≈ 89, where the gradient is 0 anyway.
    b = ctx.b
    c = b.op("Cosh", [node.input[0]])
    return b.op("Div", [dy, b.mul(c, c)], "tanh_grad")


@input_rule("HardSigmoid")
def hard_sigmoid(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, y = ctx.b, node.output[0]
    alpha = float(attrs(node).get("alpha", 0.2))
    inside = b.op("And", [b.op("Greater", [y, _zero(ctx)]), b.op("Less", [y, b.const(1.0)])])
    return b.op("Where", [inside, b.mul(dy, b.const(alpha)), _zero(ctx)], "hard_sigmoid_grad")


@input_rule("HardSwish")
def hard_swish(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # y = x·clip(x/6 + 1/2, 0, 1); dy/dx = 0 below -3, 1 above 3, x/3 + 1/2 between (PyTorch's convention).
    b, x = ctx.b, node.input[0]
    mid = b.op("Add", [b.mul(x, b.const(1.0 / 3.0)), b.const(0.5)])
    upper = b.op("Where", [b.op("Greater", [x, b.const(3.0)]), b.const(1.0), mid])
    slope = b.op("Where", [b.op("Less", [x, b.const(-3.0)]), _zero(ctx), upper])
    return b.mul(dy, slope)


def _axis(ctx: RuleContext, node: onnx.NodeProto) -> int:
    rank = len(ctx.shape(node.input[0]))
    axis = int(attrs(node).get("axis", -1 if ctx.opset >= 13 else 1))
    return axis % rank


@input_rule("Softmax")
def softmax(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, y = ctx.b, node.output[0]
    s = b.op("ReduceSum", [b.mul(dy, y), b.ints([_axis(ctx, node)])], keepdims=1)
    return b.mul(y, b.op("Sub", [dy, s]))


@input_rule("LogSoftmax")
def log_softmax(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, y = ctx.b, node.output[0]
    s = b.op("ReduceSum", [dy, b.ints([_axis(ctx, node)])], keepdims=1)
    return b.op("Sub", [dy, b.mul(b.op("Exp", [y]), s)])
