"""Broadcasting arithmetic. Each input's gradient is summed back over the axes it was broadcast along
(ReduceSum with keepdims, then Reshape to the input's static shape)."""

from __future__ import annotations

import onnx

from advengine.graph.rules.base import Grads, RuleContext, input_rule, output_rule


def _binary(ctx: RuleContext, node: onnx.NodeProto) -> tuple[str, str, tuple[int, ...]]:
    return node.input[0], node.input[1], ctx.shape(node.output[0])


@output_rule("Add", "Sub")
def add_sub(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    a, c, full = _binary(ctx, node)
    da = ctx.unbroadcast(dy, ctx.shape(a), full) if ctx.needs(a) else None
    dc = None
    if ctx.needs(c):
        g = ctx.b.op("Neg", [dy]) if node.op_type == "Sub" else dy
        dc = ctx.unbroadcast(g, ctx.shape(c), full)
    return [da, dc]


@output_rule("Mul")
def mul(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    a, c, full = _binary(ctx, node)
    b = ctx.b
    da = ctx.unbroadcast(b.mul(dy, c), ctx.shape(a), full) if ctx.needs(a) else None
    dc = ctx.unbroadcast(b.mul(dy, a), ctx.shape(c), full) if ctx.needs(c) else None
    return [da, dc]


@output_rule("Div")
def div(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    # y = a / c: da = dy / c, dc = -dy · y / c.
    a, c, full = _binary(ctx, node)
    b = ctx.b
    da = ctx.unbroadcast(b.op("Div", [dy, c]), ctx.shape(a), full) if ctx.needs(a) else None
    dc = None
    if ctx.needs(c):
        g = b.op("Neg", [b.op("Div", [b.mul(dy, node.output[0]), c])])
        dc = ctx.unbroadcast(g, ctx.shape(c), full)
    return [da, dc]


@input_rule("Neg")
def neg(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return ctx.b.op("Neg", [dy])


@input_rule("Exp")
def exp(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return ctx.b.mul(dy, node.output[0])


@input_rule("Log")
def log(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return ctx.b.op("Div", [dy, node.input[0]])


@output_rule("Sum")
def sum_(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    full = ctx.shape(node.output[0])
    return [ctx.unbroadcast(dy, ctx.shape(i), full) if ctx.needs(i) else None for i in node.input]
