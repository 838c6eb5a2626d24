"""Normalisations. BatchNormalization in inference mode is a per-channel affine map: dX = dY·γ/√(σ²+ε).
Layer/Instance/GroupNormalization recompute their statistics in the reverse pass. Scale and bias (and
BN's statistics) get gradients too, for training them as parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, input_rule, output_rule
from advengine.graph.rules.conv import bias_grad


@check("BatchNormalization")
def inference_mode_only(node: onnx.NodeProto, model_name: str) -> None:
    if int(attrs(node).get("training_mode", 0)) or len([o for o in node.output if o]) > 1:
        raise GraphError(
            f"{model_name}: BatchNormalization {node.name!r} is in training mode; export the model "
            "in eval mode (running statistics)"
        )


@output_rule("BatchNormalization")
def batch_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    """y = (x − μ)·f + β with f = γ/√(σ² + ε) per channel: dX = dy·f, dγ = Σ dy·(x − μ)/√(σ² + ε),
    dβ = Σ dy, dμ = −Σ dy·f, dσ² = −½·Σ dy·(x − μ)·γ·(σ² + ε)^(−3/2) (sums over all axes but 1)."""
    out: Grads = [None] * len(node.input)
    x, scale, bias, mean, var = node.input[:5]
    eps = float(attrs(node).get("epsilon", 1e-5))
    rank = len(ctx.shape(x))
    b = ctx.b
    if all(t in ctx.values for t in (scale, mean, var)):
        # Constant scale and statistics (only x or β traced): f is one per-channel constant.
        f = ctx.values[scale].astype(np.float64) / np.sqrt(ctx.values[var].astype(np.float64) + eps)
        factor = _per_channel(ctx, f, rank)
    else:
        inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [_per_channel(ctx, var, rank), b.const(eps)])])])
        gamma = _per_channel(ctx, scale, rank)
        factor = b.mul(gamma, inv)
        centred = b.op("Sub", [x, _per_channel(ctx, mean, rank)])
        if ctx.needs(scale):
            out[1] = bias_grad(ctx, b.mul(b.mul(dy, centred), inv), rank)
        if ctx.needs(mean):
            out[3] = b.op("Neg", [bias_grad(ctx, b.mul(dy, factor), rank)])
        if ctx.needs(var):
            cube = b.mul(b.mul(inv, inv), inv)
            out[4] = bias_grad(ctx, b.mul(b.mul(b.mul(dy, centred), gamma), b.mul(cube, b.const(-0.5))), rank)
    if ctx.needs(x):
        out[0] = b.mul(dy, factor)
    if ctx.needs(bias):
        out[2] = bias_grad(ctx, dy, rank)
    return out


def _standardize(ctx: RuleContext, x: str, axes: list[int], eps: float) -> tuple[str, str]:
    """x̂ = (x − mean)/√(var + ε) over ``axes`` and 1/√(var + ε), recomputed from x in the reverse pass."""
    b = ctx.b
    ax = b.ints(axes)
    centred = b.op("Sub", [x, b.op("ReduceMean", [x, ax], keepdims=1)])
    var = b.op("ReduceMean", [b.mul(centred, centred), ax], keepdims=1)
    inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [var, b.const(eps)])])])
    return b.mul(centred, inv), inv


def _standardize_grad(ctx: RuleContext, xhat: str, inv: str, g: str, axes: list[int]) -> str:
    """dX of x̂ over ``axes``, given g = dY·γ (the affine scale applied):
    dX = (g − mean(g) − x̂·mean(g·x̂)) / √(var + ε)."""
    b = ctx.b
    ax = b.ints(axes)
    g_mean = b.op("ReduceMean", [g, ax], keepdims=1)
    proj = b.mul(xhat, b.op("ReduceMean", [b.mul(g, xhat), ax], keepdims=1))
    return b.mul(b.op("Sub", [b.op("Sub", [g, g_mean]), proj]), inv)


def _per_channel(ctx: RuleContext, values: np.ndarray[Any, Any] | str, rank: int) -> str:
    """A per-channel vector [C] shaped [1, C, 1, ...] to broadcast against [N, C, ...]: a constant, or a
    Reshape of a runtime tensor (a parameter being trained)."""
    shape = (1, -1) + (1,) * (rank - 2)
    if isinstance(values, str):
        if values in ctx.values:
            values = ctx.values[values]
        else:
            return ctx.b.reshape(values, shape)
    return ctx.b.const(values.astype(np.float32).reshape(shape), hint="norm_scale")


def _affine_grads(
    ctx: RuleContext, node: onnx.NodeProto, dy: str, xhat: str, y_shape: tuple[int, ...], per_channel: bool
) -> Grads:
    """d scale and d bias of y = x̂·γ + β: Σ dy·x̂ and Σ dy, reduced to each parameter's shape."""
    out: Grads = [None, None]
    for i, t in enumerate(node.input[1:3]):
        if ctx.needs(t):
            g = ctx.b.mul(dy, xhat) if i == 0 else dy
            if per_channel:
                out[i] = bias_grad(ctx, g, len(y_shape))
            else:
                out[i] = ctx.unbroadcast(g, ctx.shape(t), y_shape)
    return out


@output_rule("LayerNormalization")
def layer_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    a = attrs(node)
    x = node.input[0]
    xs = ctx.shape(x)
    axis = int(a.get("axis", -1)) % len(xs)
    axes = list(range(axis, len(xs)))
    xhat, inv = _standardize(ctx, x, axes, float(a.get("epsilon", 1e-5)))
    dx = None
    if ctx.needs(x):
        dx = _standardize_grad(ctx, xhat, inv, ctx.b.mul(dy, node.input[1]), axes)
    return [dx, *_affine_grads(ctx, node, dy, xhat, ctx.shape(node.output[0]), per_channel=False)]


@output_rule("InstanceNormalization")
def instance_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    x = node.input[0]
    rank = len(ctx.shape(x))
    axes = list(range(2, rank))
    xhat, inv = _standardize(ctx, x, axes, float(attrs(node).get("epsilon", 1e-5)))
    dx = None
    if ctx.needs(x):
        g = ctx.b.mul(dy, _per_channel(ctx, node.input[1], rank))
        dx = _standardize_grad(ctx, xhat, inv, g, axes)
    return [dx, *_affine_grads(ctx, node, dy, xhat, ctx.shape(x), per_channel=True)]


@output_rule("GroupNormalization")
def group_norm(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    # Statistics per (sample, group): view x as [N, G, C/G·spatial]. The scale is per channel (opset 21;
    # onnx's checker refuses opset 18's per-group form).
    a = attrs(node)
    x = node.input[0]
    xs = ctx.shape(x)
    grouped = (xs[0], int(a["num_groups"]), -1)
    b = ctx.b
    xhat_g, inv = _standardize(ctx, b.reshape(x, grouped), [2], float(a.get("epsilon", 1e-5)))
    dx = None
    if ctx.needs(x):
        g = b.mul(dy, _per_channel(ctx, node.input[1], len(xs)))
        dx = b.reshape(_standardize_grad(ctx, xhat_g, inv, b.reshape(g, grouped), [2]), xs)
    xhat = b.reshape(xhat_g, xs)
    return [dx, *_affine_grads(ctx, node, dy, xhat, xs, per_channel=True)]


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
