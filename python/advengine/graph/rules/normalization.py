"""BatchNormalization in inference mode is a per-channel affine map: dX = dY · scale/√(var+ε)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, input_rule, rule


@check("BatchNormalization")
def inference_mode_only(node: onnx.NodeProto, model_name: str) -> None:
    if int(attrs(node).get("training_mode", 0)) or len([o for o in node.output if o]) > 1:
        raise GraphError(
            f"{model_name}: BatchNormalization {node.name!r} is in training mode; export the model "
            "in eval mode (running statistics)"
        )


@rule("BatchNormalization")
def batch_norm(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    a = attrs(node)
    dy = grads[0]
    none: Grads = [None] * len(node.input)
    if dy is None:
        return none
    scale = ctx.value(node.input[1], node).astype(np.float64)
    var = ctx.value(node.input[4], node).astype(np.float64)
    factor = scale / np.sqrt(var + float(a.get("epsilon", 1e-5)))
    rank = len(ctx.shape(node.input[0]))
    shaped = factor.reshape((1, -1) + (1,) * (rank - 2)).astype(np.float32)
    return [ctx.b.mul(dy, ctx.b.const(shaped, hint="bn_factor")), *none[1:]]


def _standardize_grad(ctx: RuleContext, x: str, g: str, axes: list[int], eps: float) -> str:
    """dX of x̂ = (x − mean)/√(var + ε) over ``axes``, given g = dY·γ (the affine scale applied).
    The statistics are recomputed from x in the reverse pass:
    dX = (g − mean(g) − x̂·mean(g·x̂)) / √(var + ε)."""
    b = ctx.b
    ax = b.ints(axes)
    centred = b.op("Sub", [x, b.op("ReduceMean", [x, ax], keepdims=1)])
    var = b.op("ReduceMean", [b.mul(centred, centred), ax], keepdims=1)
    inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [var, b.const(eps)])])])
    xhat = b.mul(centred, inv)
    g_mean = b.op("ReduceMean", [g, ax], keepdims=1)
    proj = b.mul(xhat, b.op("ReduceMean", [b.mul(g, xhat), ax], keepdims=1))
    return b.mul(b.op("Sub", [b.op("Sub", [g, g_mean]), proj]), inv)


def _constant_affine(ctx: RuleContext, node: onnx.NodeProto) -> None:
    for t in node.input[1:]:
        if ctx.needs(t):
            raise GraphError(
                f"{ctx.model_name}: {node.op_type} {node.name!r} has an image-dependent scale or bias; "
                "only constant affine parameters are supported"
            )


@input_rule("LayerNormalization")
def layer_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    _constant_affine(ctx, node)
    a = attrs(node)
    x = node.input[0]
    rank = len(ctx.shape(x))
    axis = int(a.get("axis", -1)) % rank
    g = ctx.b.mul(dy, node.input[1])
    return _standardize_grad(ctx, x, g, list(range(axis, rank)), float(a.get("epsilon", 1e-5)))


def _per_channel(ctx: RuleContext, values: np.ndarray[Any, Any], rank: int) -> str:
    shaped = values.astype(np.float32).reshape((1, -1) + (1,) * (rank - 2))
    return ctx.b.const(shaped, hint="norm_scale")


@input_rule("InstanceNormalization")
def instance_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    _constant_affine(ctx, node)
    x = node.input[0]
    rank = len(ctx.shape(x))
    g = ctx.b.mul(dy, _per_channel(ctx, ctx.value(node.input[1], node), rank))
    eps = float(attrs(node).get("epsilon", 1e-5))
    return _standardize_grad(ctx, x, g, list(range(2, rank)), eps)


@input_rule("GroupNormalization")
def group_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # Statistics per (sample, group): view x as [N, G, C/G·spatial]. The scale is per channel (opset 21;
    # onnx's checker refuses opset 18's per-group form).
    _constant_affine(ctx, node)
    a = attrs(node)
    x = node.input[0]
    xs = ctx.shape(x)
    groups = int(a["num_groups"])
    scale = ctx.value(node.input[1], node).reshape(-1)
    b = ctx.b
    g = b.mul(dy, _per_channel(ctx, scale, len(xs)))
    grouped = (xs[0], groups, -1)
    dx = _standardize_grad(
        ctx, b.reshape(x, grouped), b.reshape(g, grouped), [2], float(a.get("epsilon", 1e-5))
    )
    return b.reshape(dx, xs)


@input_rule("LRN")
def lrn(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> str:
    # y = x·s^(−β), s = bias + α/size·A(x²) with A the channel window sum (a banded [C, C] 1×1 Conv):
    # dx = dy·s^(−β) − (2αβ/size)·x·Aᵀ(dy·x·s^(−β−1)).
    a = attrs(node)
    size = int(a["size"])
    alpha, beta, bias = float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75)), float(a.get("bias", 1.0))
    x = node.input[0]
    xs = ctx.shape(x)
    channels, spatial = xs[1], len(xs) - 2
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    band = np.zeros((channels, channels), np.float32)
    for c in range(channels):
        band[c, max(0, c - lo) : min(channels, c + hi + 1)] = 1.0
    ones = [1] * spatial
    b = ctx.b

    def window(t: str, matrix: np.ndarray[Any, Any]) -> str:
        w = b.const(np.ascontiguousarray(matrix).reshape(channels, channels, *ones), hint="lrn_band")
        return b.op("Conv", [t, w], "lrn_window", kernel_shape=ones)

    s = b.op("Add", [b.mul(window(b.mul(x, x), band), b.const(alpha / size)), b.const(bias)])
    s_pow = b.op("Pow", [s, b.const(-beta)])
    direct = b.mul(dy, s_pow)
    inner = b.mul(b.mul(dy, x), b.op("Div", [s_pow, s]))
    cross = b.mul(b.mul(x, window(inner, band.T)), b.const(2.0 * alpha * beta / size))
    return b.op("Sub", [direct, cross], "lrn_grad")
