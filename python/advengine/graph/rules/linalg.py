"""Gemm and MatMul. Constant operands are transposed once at export time."""

from __future__ import annotations

import numpy as np
import onnx

from advengine.graph.rules.base import Grads, RuleContext, attrs, output_rule


@output_rule("Gemm")
def gemm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    a_attrs = attrs(node)
    alpha, beta = float(a_attrs.get("alpha", 1.0)), float(a_attrs.get("beta", 1.0))
    ta, tb = int(a_attrs.get("transA", 0)), int(a_attrs.get("transB", 0))
    a, bm = node.input[0], node.input[1]
    b = ctx.b
    out: Grads = [None] * len(node.input)
    if ctx.needs(a):
        if ta:
            out[0] = b.op("Gemm", [bm, dy], "gemm_grad", alpha=alpha, transA=tb, transB=1)
        else:
            out[0] = b.op("Gemm", [dy, bm], "gemm_grad", alpha=alpha, transB=0 if tb else 1)
    if ctx.needs(bm):
        if tb:
            out[1] = b.op("Gemm", [dy, a], "gemm_grad", alpha=alpha, transA=1, transB=ta)
        else:
            out[1] = b.op("Gemm", [a, dy], "gemm_grad", alpha=alpha, transA=0 if ta else 1)
    if len(node.input) > 2 and ctx.needs(node.input[2]):
        g = b.mul(dy, b.const(beta)) if beta != 1.0 else dy
        out[2] = ctx.unbroadcast(g, ctx.shape(node.input[2]), ctx.shape(node.output[0]))
    return out


def _swap_last(ctx: RuleContext, name: str, rank: int) -> str:
    if name in ctx.values:
        return ctx.b.const(np.swapaxes(ctx.values[name], -1, -2).astype(np.float32), hint="matmul_t")
    perm = [*range(rank - 2), rank - 1, rank - 2]
    return ctx.b.op("Transpose", [name], perm=perm)


@output_rule("MatMul")
def matmul(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    a, c = node.input
    sa, sc = ctx.shape(a), ctx.shape(c)
    b = ctx.b
    # 1-D operands are promoted to matrices as numpy does; everything is reshaped back at the end.
    sa2 = (1, *sa) if len(sa) == 1 else sa
    sc2 = (*sc, 1) if len(sc) == 1 else sc
    lead = np.broadcast_shapes(sa2[:-2], sc2[:-2])
    out2 = (*lead, sa2[-2], sc2[-1])
    dy2 = b.reshape(dy, out2) if ctx.shape(node.output[0]) != out2 else dy
    a2 = b.reshape(a, sa2) if sa2 != sa else a
    c2 = b.reshape(c, sc2) if sc2 != sc else c

    def back(g: str, s2: tuple[int, ...], s: tuple[int, ...]) -> str:
        """``g`` [*lead, rows, cols] summed to the promoted operand shape ``s2``, then reshaped to ``s``."""
        g = ctx.unbroadcast(g, s2, (*lead, s2[-2], s2[-1]))
        return b.reshape(g, s) if s2 != s else g

    # A promoted operand is a Reshape output, never a constant: _swap_last transposes it at run time.
    da = dc = None
    if ctx.needs(a):
        da = back(b.op("MatMul", [dy2, _swap_last(ctx, c2, len(sc2))], "matmul_grad"), sa2, sa)
    if ctx.needs(c):
        dc = back(b.op("MatMul", [_swap_last(ctx, a2, len(sa2)), dy2], "matmul_grad"), sc2, sc)
    return [da, dc]
