"""Ops that select or replicate elements: Gather (constant indices), Expand, Tile, Where, and the
variadic Min/Max/Mean. Every reverse pass here is deterministic: scatters are written as products with
constant one-hot matrices or as reductions, never as atomics."""

from __future__ import annotations

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, input_rule, output_rule


@input_rule("Gather")
def gather(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # y = x.take(idx, axis). With Q = idx.size picks along an axis of length D, dx = dy' · M where
    # M [Q, D] is the one-hot matrix of the (constant) indices: repeated indices sum, as they must.
    x, idx = node.input
    if ctx.needs(idx):
        raise GraphError(f"{ctx.model_name}: Gather {node.name!r} has float indices")
    xs = ctx.shape(x)
    rank = len(xs)
    axis = int(attrs(node).get("axis", 0)) % rank
    flat = ctx.value(idx, node).reshape(-1).astype(np.int64) % xs[axis]
    onehot = np.zeros((flat.size, xs[axis]), np.float32)
    onehot[np.arange(flat.size), flat] = 1.0
    b = ctx.b
    g = b.reshape(dy, (*xs[:axis], flat.size, *xs[axis + 1 :]))
    to_last = [*range(axis), *range(axis + 1, rank), axis]
    g = b.op("Transpose", [g], perm=to_last) if axis != rank - 1 else g
    g = b.op("MatMul", [g, b.const(onehot, hint="gather_onehot")], "gather_grad")
    if axis != rank - 1:
        g = b.op("Transpose", [g], perm=[int(i) for i in np.argsort(to_last)])
    return g


@input_rule("Expand")
def expand(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    return ctx.unbroadcast(dy, ctx.shape(node.input[0]), ctx.shape(node.output[0]))


@input_rule("Tile")
def tile(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # Output axis i is repeats[i] copies of x's axis i: view dy as [r0, s0, r1, s1, ...] and sum the r's.
    xs = ctx.shape(node.input[0])
    reps = [int(r) for r in ctx.value(node.input[1], node).reshape(-1)]
    b = ctx.b
    split = [d for pair in zip(reps, xs, strict=True) for d in pair]
    axes = b.ints(list(range(0, 2 * len(xs), 2)))
    return b.op("ReduceSum", [b.reshape(dy, split), axes], "tile_grad", keepdims=0)


@output_rule("Where")
def where(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    cond, a, c = node.input
    full = ctx.shape(node.output[0])
    b = ctx.b
    zero = b.const(0.0)
    da = ctx.unbroadcast(b.op("Where", [cond, dy, zero]), ctx.shape(a), full) if ctx.needs(a) else None
    dc = ctx.unbroadcast(b.op("Where", [cond, zero, dy]), ctx.shape(c), full) if ctx.needs(c) else None
    return [None, da, dc]


@output_rule("Min", "Max")
def min_max(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    # Every input equal to the result shares the gradient evenly (PyTorch's minimum/maximum at ties).
    if len(node.input) == 1:
        return [dy]
    b, y = ctx.b, node.output[0]
    full = ctx.shape(y)
    hits = [b.op("Cast", [b.op("Equal", [i, y])], to=onnx.TensorProto.FLOAT) for i in node.input]
    share = b.op("Div", [dy, b.op("Sum", hits)])
    return [
        ctx.unbroadcast(b.mul(share, hit), ctx.shape(i), full) if ctx.needs(i) else None
        for i, hit in zip(node.input, hits, strict=True)
    ]


@output_rule("Mean")
def mean(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    full = ctx.shape(node.output[0])
    g = ctx.b.mul(dy, ctx.b.const(1.0 / len(node.input)))
    return [ctx.unbroadcast(g, ctx.shape(i), full) if ctx.needs(i) else None for i in node.input]
