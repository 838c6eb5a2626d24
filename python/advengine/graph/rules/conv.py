"""Conv and ConvTranspose. Conv's input gradient is a ConvTranspose with the same weight, explicit pads
and output_padding (or, at stride 1 with a constant weight, a Conv with the flipped kernel);
ConvTranspose's is a Conv with its weight. Weight gradients of both are one grouped Conv with batch and
channels swapped (:func:`weight_grad`); bias gradients sum the output gradient over batch and space.

``output_shape`` is never used: with it ORT re-derives symmetric pads and drops the forward's
asymmetric ones (the bug that makes onnx-ad's Conv adjoint wrong on TF-style SAME exports).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, output_rule


def resolve_pads(
    a: dict[str, object], in_sp: tuple[int, ...], kernel: list[int], strides: list[int], dil: list[int]
) -> tuple[list[int], list[int]]:
    """Explicit (begin, end) pads per spatial axis, with auto_pad resolved the way ONNX defines it."""
    n = len(in_sp)
    auto = str(a.get("auto_pad", "NOTSET"))
    if auto in ("NOTSET", ""):
        pads = list(a.get("pads", [0] * 2 * n))  # type: ignore[call-overload]
        return [int(p) for p in pads[:n]], [int(p) for p in pads[n:]]
    if auto == "VALID":
        return [0] * n, [0] * n
    begin, end = [], []
    for i in range(n):
        out = -(-in_sp[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - in_sp[i])
        small = total // 2
        big = total - small
        if auto == "SAME_UPPER":
            begin.append(small)
            end.append(big)
        elif auto == "SAME_LOWER":
            begin.append(big)
            end.append(small)
        else:
            raise GraphError(f"unknown auto_pad {auto!r}; expected NOTSET, VALID, SAME_UPPER or SAME_LOWER")
    return begin, end


def output_padding(
    in_sp: tuple[int, ...],
    out_sp: tuple[int, ...],
    kernel: list[int],
    strides: list[int],
    dil: list[int],
    pb: list[int],
    pe: list[int],
) -> list[int]:
    """The extra rows/cols ConvTranspose must add so that its output has exactly the forward input size."""
    return [
        in_sp[i] - ((out_sp[i] - 1) * strides[i] - pb[i] - pe[i] + dil[i] * (kernel[i] - 1) + 1)
        for i in range(len(in_sp))
    ]


@dataclass
class Geometry:
    """A Conv's (or the Conv that a ConvTranspose is the adjoint of) spatial parameters, pads explicit."""

    kernel: list[int]
    strides: list[int]
    dil: list[int]
    pb: list[int]
    pe: list[int]
    group: int


def _geometry(node: onnx.NodeProto, conv_in_sp: tuple[int, ...], w_shape: tuple[int, ...]) -> Geometry:
    a = attrs(node)
    n = len(w_shape) - 2
    kernel = [int(k) for k in a.get("kernel_shape", w_shape[2:])]
    strides = [int(s) for s in a.get("strides", [1] * n)]
    dil = [int(d) for d in a.get("dilations", [1] * n)]
    pb, pe = resolve_pads(a, conv_in_sp, kernel, strides, dil)
    return Geometry(kernel, strides, dil, pb, pe, int(a.get("group", 1)))


def weight_grad(
    ctx: RuleContext,
    x: str,
    dy: str,
    xs: tuple[int, ...],
    ys: tuple[int, ...],
    geo: Geometry,
) -> str:
    """dW of y = Conv(x, W) [Cout, Cin/G, *k] for x of shape ``xs`` and dy of shape ``ys``:
    dW[co, ci, k] = Σ_{n,o} dy[n, co, o]·x_pad[n, g(co)·Cin/G + ci, o·s + k·d]. That is itself a grouped
    Conv: the padded x as [Cin/G, G·N, ...] (each group's channels become the batch, its samples the
    channels), dy as the kernel [Cout, N, *out], the forward's dilations as strides and its strides as
    dilations; its output [Cin/G, Cout, *k] is transposed back."""
    b = ctx.b
    n = len(xs) - 2
    batch, cin = xs[0], xs[1]
    cin_g = cin // geo.group
    out_sp = ys[2:]
    # Only the rows the forward reads: pads beyond them (and input rows past the last window) are cut.
    need = [(out_sp[i] - 1) * geo.strides[i] + (geo.kernel[i] - 1) * geo.dil[i] + 1 for i in range(n)]
    end = [need[i] - xs[2 + i] - geo.pb[i] for i in range(n)]
    padded = x
    if any(geo.pb) or any(e > 0 for e in end):
        pads = [0, 0, *geo.pb, 0, 0, *(max(0, e) for e in end)]
        padded = b.op("Pad", [x, b.ints(pads)], "conv_wgrad_pad")
    if any(e < 0 for e in end):
        axes = list(range(2, n + 2))
        padded = b.op("Slice", [padded, b.ints([0] * n), b.ints(need), b.ints(axes)], "conv_wgrad_crop")
    spatial = list(range(3, n + 3))
    if geo.group == 1:
        batched = b.op("Transpose", [padded], "conv_wgrad_in", perm=[1, 0, *range(2, n + 2)])
    else:
        grouped = b.reshape(padded, (batch, geo.group, cin_g, *need))
        swapped = b.op("Transpose", [grouped], "conv_wgrad_in", perm=[2, 1, 0, *spatial])
        batched = b.reshape(swapped, (cin_g, geo.group * batch, *need))
    kernel = b.op("Transpose", [dy], "conv_wgrad_kernel", perm=[1, 0, *range(2, n + 2)])
    z = b.op(
        "Conv",
        [batched, kernel],
        "conv_wgrad",
        group=geo.group,
        kernel_shape=list(out_sp),
        strides=geo.dil,
        dilations=geo.strides,
    )
    return b.op("Transpose", [z], "conv_wgrad", perm=[1, 0, *range(2, n + 2)])


def conv_transpose(ctx: RuleContext, dy: str, w: str, geo: Geometry, op: list[int], hint: str) -> str:
    """The adjoint of a strided window read with ``geo``: ConvTranspose of ``dy`` with ``w``, explicit
    pads and output_padding ``op`` (never output_shape: see the module docstring)."""
    return ctx.b.op(
        "ConvTranspose",
        [dy, w],
        hint,
        group=geo.group,
        kernel_shape=geo.kernel,
        strides=geo.strides,
        dilations=geo.dil,
        pads=geo.pb + geo.pe,
        output_padding=op if any(op) else None,
    )


def bias_grad(ctx: RuleContext, dy: str, rank: int) -> str:
    """d bias [C] of a per-channel bias added to an [N, C, ...] output: dy summed over all other axes."""
    axes = ctx.b.ints([0, *range(2, rank)], "axes")
    return ctx.b.op("ReduceSum", [dy, axes], "bias_grad", keepdims=0)


def _conv_input_grad(
    ctx: RuleContext, dy: str, w: str, xs: tuple[int, ...], ys: tuple[int, ...], geo: Geometry
) -> str:
    kernel, strides, dil, pb, pe, group = geo.kernel, geo.strides, geo.dil, geo.pb, geo.pe, geo.group
    op = output_padding(xs[2:], ys[2:], kernel, strides, dil, pb, pe)
    flipped_pb = [d * (k - 1) - p for d, k, p in zip(dil, kernel, pb, strict=True)]
    flipped_pe = [d * (k - 1) - p for d, k, p in zip(dil, kernel, pe, strict=True)]
    if all(s == 1 for s in strides) and not any(op) and min(flipped_pb + flipped_pe) >= 0 and w in ctx.values:
        # Stride 1: the transposed conv is a plain Conv with the spatially flipped kernel (in/out channels
        # swapped within each group). ORT's CPU Conv runs this about 2x faster than ConvTranspose, most of
        # all for depthwise kernels, which ConvTranspose handles one group at a time. A runtime weight
        # (a parameter being trained) takes the ConvTranspose path below.
        wv = ctx.values[w]
        cout, cin_g = wv.shape[0], wv.shape[1]
        swapped = wv.reshape(group, cout // group, cin_g, *wv.shape[2:]).swapaxes(1, 2)
        flipped = np.flip(swapped, axis=tuple(range(3, wv.ndim + 1))).reshape(
            group * cin_g, cout // group, *kernel
        )
        return ctx.b.op(
            "Conv",
            [dy, ctx.b.const(np.ascontiguousarray(flipped, dtype=np.float32), hint="conv_grad_kernel")],
            "conv_grad",
            group=group,
            kernel_shape=kernel,
            dilations=dil,
            pads=flipped_pb + flipped_pe,
        )
    return conv_transpose(ctx, dy, w, geo, op, "conv_grad")


@check("ConvTranspose")
def explicit_pads_only(node: onnx.NodeProto, model_name: str) -> None:
    a = attrs(node)
    if "output_shape" in a or str(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID", ""):
        raise GraphError(
            f"{model_name}: ConvTranspose {node.name!r} sets output_shape or a SAME auto_pad; only "
            "explicit pads (and output_padding) are supported, re-export with explicit pads"
        )


def _transpose_input_grad(
    ctx: RuleContext, dy: str, w: str, xs: tuple[int, ...], ys: tuple[int, ...], geo: Geometry
) -> str:
    """dX of y = ConvTranspose(x, W): the Conv of dy with W (cut to x's size where output_padding ≥
    stride makes the Conv one row longer)."""
    b = ctx.b
    dx = b.op(
        "Conv",
        [dy, w],
        "conv_transpose_grad",
        group=geo.group,
        kernel_shape=geo.kernel,
        strides=geo.strides,
        dilations=geo.dil,
        pads=geo.pb + geo.pe,
    )
    n = len(xs) - 2
    got = [
        (ys[2 + i] + geo.pb[i] + geo.pe[i] - geo.dil[i] * (geo.kernel[i] - 1) - 1) // geo.strides[i] + 1
        for i in range(n)
    ]
    if got != list(xs[2:]):
        ends, axes = b.ints(list(xs[2:])), b.ints(list(range(2, n + 2)))
        dx = b.op("Slice", [dx, b.ints([0] * n), ends, axes], "conv_transpose_grad")
    return dx


@output_rule("Conv", "ConvTranspose")
def conv(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    """y = ConvTranspose(x, W) is the adjoint of the Conv u ↦ Conv(u, W) from y's shape to x's with
    the same attributes: its geometry is that Conv's, its dX is that Conv of dy, and its dW is the Conv
    weight gradient with the roles swapped (input dy, output gradient x)."""
    out: Grads = [None] * len(node.input)
    x, w = node.input[0], node.input[1]
    xs, ys = ctx.shape(x), ctx.shape(node.output[0])
    transposed = node.op_type == "ConvTranspose"
    geo = _geometry(node, (ys if transposed else xs)[2:], ctx.shape(w))
    if ctx.needs(x):
        input_grad = _transpose_input_grad if transposed else _conv_input_grad
        out[0] = input_grad(ctx, dy, w, xs, ys, geo)
    if ctx.needs(w):
        out[1] = weight_grad(ctx, dy, x, ys, xs, geo) if transposed else weight_grad(ctx, x, dy, xs, ys, geo)
    if len(node.input) > 2 and ctx.needs(node.input[2]):
        out[2] = bias_grad(ctx, dy, len(ys))
    return out


__all__ = ["Geometry", "bias_grad", "conv_transpose", "output_padding", "resolve_pads", "weight_grad"]
