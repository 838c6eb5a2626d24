"""Pointwise activations. Masks are taken from the activation's *output* where that is exact, so that
ORT can still fuse Conv + activation in the forward part of the graph."""

from __future__ import annotations

import onnx

from advengine.graph.rules.base import Grads, RuleContext, attrs, rule


def _zero(ctx: RuleContext) -> str:
    return ctx.b.const(0.0, hint="zero")


@rule("Relu")
def relu(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b = ctx.b
    mask = b.op("Greater", [node.output[0], _zero(ctx)])
    return [b.op("Where", [mask, dy, _zero(ctx)], "relu_grad")]


@rule("Clip")
def clip(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    # Gradient passes strictly inside (min, max), like PyTorch's hardtanh/ReLU6 backward. With y = clip(x),
    # y > min ⇔ x > min, so the output gives the exact mask.
    (dy,) = grads
    none: Grads = [None] * len(node.input)
    if dy is None:
        return none
    b, y = ctx.b, node.output[0]
    masks = []
    if len(node.input) > 1 and node.input[1]:
        masks.append(b.op("Greater", [y, node.input[1]]))
    if len(node.input) > 2 and node.input[2]:
        masks.append(b.op("Less", [y, node.input[2]]))
    if not masks:
        return [dy, *none[1:]]
    mask = masks[0] if len(masks) == 1 else b.op("And", masks)
    return [b.op("Where", [mask, dy, _zero(ctx)], "clip_grad"), *none[1:]]


@rule("LeakyRelu")
def leaky_relu(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b = ctx.b
    alpha = float(attrs(node).get("alpha", 0.01))
    mask = b.op("Greater", [node.input[0], _zero(ctx)])
    return [b.op("Where", [mask, dy, b.mul(dy, b.const(alpha))], "leaky_relu_grad")]


@rule("Sigmoid")
def sigmoid(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b, y = ctx.b, node.output[0]
    one_minus = b.op("Sub", [b.const(1.0), y])
    return [b.mul(dy, b.mul(y, one_minus))]


@rule("Tanh")
def tanh(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b, y = ctx.b, node.output[0]
    return [b.mul(dy, b.op("Sub", [b.const(1.0), b.mul(y, y)]))]


@rule("HardSigmoid")
def hard_sigmoid(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b, y = ctx.b, node.output[0]
    alpha = float(attrs(node).get("alpha", 0.2))
    inside = b.op("And", [b.op("Greater", [y, _zero(ctx)]), b.op("Less", [y, b.const(1.0)])])
    return [b.op("Where", [inside, b.mul(dy, b.const(alpha)), _zero(ctx)], "hard_sigmoid_grad")]


@rule("HardSwish")
def hard_swish(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    # y = x·clip(x/6 + 1/2, 0, 1); dy/dx = 0 below -3, 1 above 3, x/3 + 1/2 between (PyTorch's convention).
    (dy,) = grads
    if dy is None:
        return [None]
    b, x = ctx.b, node.input[0]
    mid = b.op("Add", [b.mul(x, b.const(1.0 / 3.0)), b.const(0.5)])
    upper = b.op("Where", [b.op("Greater", [x, b.const(3.0)]), b.const(1.0), mid])
    slope = b.op("Where", [b.op("Less", [x, b.const(-3.0)]), _zero(ctx), upper])
    return [b.mul(dy, slope)]


def _axis(ctx: RuleContext, node: onnx.NodeProto) -> int:
    rank = len(ctx.shape(node.input[0]))
    axis = int(attrs(node).get("axis", -1 if ctx.opset >= 13 else 1))
    return axis % rank


@rule("Softmax")
def softmax(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b, y = ctx.b, node.output[0]
    s = b.op("ReduceSum", [b.mul(dy, y), b.ints([_axis(ctx, node)])], keepdims=1)
    return [b.mul(y, b.op("Sub", [dy, s]))]


@rule("LogSoftmax")
def log_softmax(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    if dy is None:
        return [None]
    b, y = ctx.b, node.output[0]
    s = b.op("ReduceSum", [dy, b.ints([_axis(ctx, node)])], keepdims=1)
    return [b.op("Sub", [dy, b.mul(b.op("Exp", [y]), s)])]
