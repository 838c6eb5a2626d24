"""Smooth pointwise maps whose derivative is a closed form in x or y: Sqrt, Reciprocal, Abs, Pow, Erf,
Gelu (exact and tanh forms), Softplus and Mish. SiLU needs no rule: exporters write it as
Sigmoid + Mul."""

from __future__ import annotations

import math

import numpy as np
import onnx

from advengine.graph.rules.base import Grads, RuleContext, attrs, input_rule, output_rule


@input_rule("Sqrt")
def sqrt(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # d√x = 1 / (2√x), read off the output.
    b = ctx.b
    return b.op("Div", [dy, b.mul(node.output[0], b.const(2.0))], "sqrt_grad")


@input_rule("Reciprocal")
def reciprocal(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, y = ctx.b, node.output[0]
    return b.op("Neg", [b.mul(dy, b.mul(y, y))], "reciprocal_grad")


@input_rule("Abs")
def abs_(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # Sign(0) = 0: the subgradient PyTorch uses.
    return ctx.b.mul(dy, ctx.b.op("Sign", [node.input[0]]))


@output_rule("Pow")
def pow_(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    # y = a^c: da = c·a^(c−1); dc = y·ln a (only where a > 0, as in PyTorch).
    a, c = node.input
    full = ctx.shape(node.output[0])
    b = ctx.b
    if c in ctx.values:
        cv = np.asarray(ctx.values[c], np.float32)
        expo, minus_one = b.const(cv, hint="pow_exp"), b.const(cv - 1.0, hint="pow_exp")
    else:
        expo = b.op("Cast", [c], to=onnx.TensorProto.FLOAT)
        minus_one = b.op("Sub", [expo, b.const(1.0)])
    da = dc = None
    if ctx.needs(a):
        if c in ctx.values and np.all(np.asarray(ctx.values[c]) == 2):
            slope = b.mul(a, b.const(2.0))  # the common square: no Pow in the reverse pass
        else:
            slope = b.mul(expo, b.op("Pow", [a, minus_one]))
        da = ctx.unbroadcast(b.mul(dy, slope), ctx.shape(a), full)
    if ctx.needs(c):
        positive = b.op("Greater", [a, b.const(0.0)])
        log_a = b.op("Log", [b.op("Where", [positive, a, b.const(1.0)])])
        dc = ctx.unbroadcast(b.mul(dy, b.mul(node.output[0], log_a)), ctx.shape(c), full)
    return [da, dc]


def _normal_pdf(ctx: RuleContext, x: str) -> str:
    b = ctx.b
    half_sq = b.mul(b.mul(x, x), b.const(-0.5))
    return b.mul(b.op("Exp", [half_sq]), b.const(1.0 / math.sqrt(2.0 * math.pi)))


@input_rule("Erf")
def erf(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, x = ctx.b, node.input[0]
    dens = b.op("Exp", [b.op("Neg", [b.mul(x, x)])])
    return b.mul(dy, b.mul(dens, b.const(2.0 / math.sqrt(math.pi))))


@input_rule("Gelu")
def gelu(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    b, x = ctx.b, node.input[0]
    one = b.const(1.0)
    if str(attrs(node).get("approximate", "none")) == "tanh":
        # y = x/2·(1 + tanh u), u = √(2/π)(x + 0.044715x³):
        # dy/dx = (1 + t)/2 + x/2·(1 − t²)·√(2/π)(1 + 3·0.044715x²).
        k, c = math.sqrt(2.0 / math.pi), 0.044715
        x2 = b.mul(x, x)
        u = b.mul(b.mul(x, b.op("Add", [one, b.mul(x2, b.const(c))])), b.const(k))
        t = b.op("Tanh", [u])
        du = b.mul(b.op("Add", [one, b.mul(x2, b.const(3.0 * c))]), b.const(k))
        inner = b.mul(b.mul(x, b.op("Sub", [one, b.mul(t, t)])), du)
        slope = b.mul(b.op("Add", [b.op("Add", [one, t]), inner]), b.const(0.5))
        return b.mul(dy, slope)
    # y = x·Φ(x): dy/dx = Φ(x) + x·φ(x).
    cdf = b.mul(b.op("Add", [one, b.op("Erf", [b.mul(x, b.const(1.0 / math.sqrt(2.0)))])]), b.const(0.5))
    slope = b.op("Add", [cdf, b.mul(x, _normal_pdf(ctx, x))])
    return b.mul(dy, slope)


@input_rule("Softplus")
def softplus(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return ctx.b.mul(dy, ctx.b.op("Sigmoid", [node.input[0]]))


@input_rule("Mish")
def mish(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # y = x·tanh(softplus x): dy/dx = t + x·σ(x)·(1 − t²).
    b, x = ctx.b, node.input[0]
    t = b.op("Tanh", [b.op("Softplus", [x])])
    sech2 = b.op("Sub", [b.const(1.0), b.mul(t, t)])
    slope = b.op("Add", [t, b.mul(b.mul(x, b.op("Sigmoid", [x])), sech2)])
    return b.mul(dy, slope)
