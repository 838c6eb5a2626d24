"""Layout ops: their VJPs only move values around, so they reuse the static shapes from the probe run."""

from __future__ import annotations

import numpy as np
import onnx

from advengine.errors import GraphError, UnsupportedOpError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, output_rule, rule


def _rest(node: onnx.NodeProto) -> Grads:
    return [None] * (len(node.input) - 1)


@rule("Identity", "Dropout")
def identity(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    # Dropout in inference mode is the identity; its optional mask output carries no gradient.
    return [grads[0], *_rest(node)]


@rule("RandomUniformLike", "RandomNormalLike")
def random_like(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    # The draw depends on its input's shape only, never on its values: no gradient flows back (a
    # dropout mask drawn in the graph is a constant of each run).
    return [None]


@rule("Cast")
def cast(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    to = int(attrs(node)["to"])
    if to not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
        return [None]
    if grads[0] is None:
        return [None]
    return [ctx.b.op("Cast", [grads[0]], to=onnx.TensorProto.FLOAT)]


@output_rule("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def reshape_back(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    return [ctx.b.reshape(dy, ctx.shape(node.input[0])), *_rest(node)]


@output_rule("Transpose")
def transpose(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    rank = len(ctx.shape(node.input[0]))
    perm = [int(p) for p in attrs(node).get("perm", list(range(rank))[::-1])]
    return [ctx.b.op("Transpose", [dy], perm=[int(i) for i in np.argsort(perm)])]


@output_rule("Concat")
def concat(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    rank = len(ctx.shape(node.output[0]))
    axis = int(attrs(node)["axis"]) % rank
    sizes = [ctx.shape(i)[axis] for i in node.input]
    parts = ctx.b.op_multi("Split", [dy, ctx.b.ints(sizes)], len(sizes), "concat_grad", axis=axis)
    return [p if ctx.needs(i) else None for p, i in zip(parts, node.input, strict=True)]


@rule("Split")
def split(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    if all(g is None for g in grads):
        return [None] * len(node.input)
    rank = len(ctx.shape(node.input[0]))
    axis = int(attrs(node).get("axis", 0)) % rank
    parts = [
        g if g is not None else ctx.b.zeros(ctx.shape(o)) for g, o in zip(grads, node.output, strict=True)
    ]
    joined = parts[0] if len(parts) == 1 else ctx.b.op("Concat", parts, "split_grad", axis=axis)
    return [joined, *_rest(node)]


@output_rule("Slice")
def slice_(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    xs = ctx.shape(node.input[0])
    rank = len(xs)
    starts = ctx.value(node.input[1], node).reshape(-1)
    ends = ctx.value(node.input[2], node).reshape(-1)
    axes = (
        ctx.value(node.input[3], node).reshape(-1)
        if len(node.input) > 3 and node.input[3]
        else np.arange(len(starts))
    )
    steps = (
        ctx.value(node.input[4], node).reshape(-1)
        if len(node.input) > 4 and node.input[4]
        else np.ones(len(starts), np.int64)
    )
    index: list[slice] = [slice(None)] * rank
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=True):
        index[int(ax) % rank] = slice(int(s), int(e), int(st))
    if all(sl.step in (None, 1) for sl in index):
        pads_begin, pads_end = [], []
        for i, sl in enumerate(index):
            lo, hi, _ = sl.indices(xs[i])
            hi = max(hi, lo)
            pads_begin.append(lo)
            pads_end.append(xs[i] - hi)
        dx = ctx.b.op("Pad", [dy, ctx.b.ints(pads_begin + pads_end)], "slice_grad", mode="constant")
        return [dx, *_rest(node)]
    # Strided or reversed slices pick distinct elements: scatter them back by flat index. The indices
    # are unique, so no reduction (and no nondeterministic atomics) is needed.
    flat = np.arange(int(np.prod(xs)), dtype=np.int64).reshape(xs)[tuple(index)].reshape(-1)
    b = ctx.b
    zeros = b.zeros((int(np.prod(xs)),))
    upd = b.reshape(dy, (flat.size,))
    scattered = b.op("ScatterElements", [zeros, b.const(flat, np.int64, "slice_idx"), upd], axis=0)
    return [b.reshape(scattered, xs), *_rest(node)]


@check("Pad")
def constant_pad_only(node: onnx.NodeProto, model_name: str) -> None:
    mode = str(attrs(node).get("mode", "constant"))
    if mode != "constant":
        raise UnsupportedOpError(
            f"{model_name}: Pad {node.name!r} uses mode={mode!r}; only constant padding has a gradient "
            "rule (re-export with constant padding)"
        )


@output_rule("Pad")
def pad(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    xs = ctx.shape(node.input[0])
    rank = len(xs)
    pads = ctx.value(node.input[1], node).reshape(-1).astype(np.int64)
    if len(node.input) > 3 and node.input[3]:
        axes = [int(a) % rank for a in ctx.value(node.input[3], node).reshape(-1)]
    else:
        axes = list(range(rank))
    if len(pads) != 2 * len(axes):
        raise GraphError(f"{ctx.model_name}: Pad {node.name!r} has {len(pads)} pads for {len(axes)} axes")
    begin, end = [0] * rank, [0] * rank
    for j, ax in enumerate(axes):
        begin[ax], end[ax] = int(pads[j]), int(pads[len(axes) + j])
    b = ctx.b
    starts = [max(p, 0) for p in begin]
    # Negative pads crop; their adjoint pads the gradient back with zeros.
    ends = [starts[i] + xs[i] - max(-begin[i], 0) - max(-end[i], 0) for i in range(rank)]
    g = b.op("Slice", [dy, b.ints(starts), b.ints(ends), b.ints(list(range(rank)))], "pad_grad")
    back = [max(-p, 0) for p in begin] + [max(-p, 0) for p in end]
    if any(back):
        g = b.op("Pad", [g, b.ints(back)], mode="constant")
    return [g, *_rest(node)]
