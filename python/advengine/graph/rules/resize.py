"""Resize: the VJP of a separable resize is dX = R_hᵀ · dY · R_w with constant matrices (exact and
deterministic, and MatMul runs everywhere)."""

from __future__ import annotations

import onnx

from advengine.errors import GraphError
from advengine.graph.interpolation import interpolation_matrix
from advengine.graph.rules.base import RuleContext, attrs, input_rule


@input_rule("Resize")
def resize(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    a = attrs(node)
    xs, ys = ctx.shape(node.input[0]), ctx.shape(node.output[0])
    where = f"{ctx.model_name}: Resize {node.name!r}"
    if str(a.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise GraphError(f"{where} uses keep_aspect_ratio_policy; only 'stretch' is supported")
    rank = len(xs)
    changed = [i for i in range(rank) if xs[i] != ys[i]]
    if any(i < rank - 2 for i in changed):
        raise GraphError(f"{where} resizes a batch/channel axis; only the last two axes are supported")
    scales = None
    if len(node.input) > 2 and node.input[2] and (len(node.input) < 4 or not node.input[3]):
        vals = ctx.value(node.input[2], node).reshape(-1)
        if vals.size:
            axes = [int(v) % rank for v in a.get("axes", range(rank))]
            scales = {ax: float(s) for ax, s in zip(axes, vals, strict=True)}
    b = ctx.b
    g = dy
    for ax in range(rank - 2, rank):
        if xs[ax] == ys[ax] and (scales is None or scales.get(ax, 1.0) == 1.0):
            continue
        try:
            r = interpolation_matrix(xs[ax], ys[ax], a, None if scales is None else scales.get(ax, 1.0))
        except GraphError as exc:
            raise GraphError(f"{where}: {exc}") from None
        if ax == rank - 1:  # dY [.., OW] @ R_w [OW, W]
            g = b.op("MatMul", [g, b.const(r, hint="resize_w")], "resize_grad")
        else:  # R_hᵀ [H, OH] @ dY [.., OH, W]
            g = b.op("MatMul", [b.const(r.T.copy(), hint="resize_hT"), g], "resize_grad")
    return g
