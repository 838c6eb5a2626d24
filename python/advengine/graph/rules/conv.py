"""Conv: the input gradient is a ConvTranspose with the same weight, explicit pads and output_padding.

``output_shape`` is never used: with it ORT re-derives symmetric pads and drops the forward's
asymmetric ones (the bug that makes onnx-ad's Conv adjoint wrong on TF-style SAME exports).
"""

from __future__ import annotations

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, rule


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


@rule("Conv")
def conv(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
    (dy,) = grads
    x, w = node.input[0], node.input[1]
    if ctx.needs(w) or (len(node.input) > 2 and ctx.needs(node.input[2])):
        raise GraphError(
            f"{ctx.model_name}: Conv {node.name!r} has image-dependent weights or bias; only constant "
            "weights are supported"
        )
    if dy is None:
        return [None] * len(node.input)
    a = attrs(node)
    xs, ws, ys = ctx.shape(x), ctx.shape(w), ctx.shape(node.output[0])
    n = len(xs) - 2
    kernel = [int(k) for k in a.get("kernel_shape", ws[2:])]
    strides = [int(s) for s in a.get("strides", [1] * n)]
    dil = [int(d) for d in a.get("dilations", [1] * n)]
    pb, pe = resolve_pads(a, xs[2:], kernel, strides, dil)
    op = output_padding(xs[2:], ys[2:], kernel, strides, dil, pb, pe)
    group = int(a.get("group", 1))
    flipped_pb = [d * (k - 1) - p for d, k, p in zip(dil, kernel, pb, strict=True)]
    flipped_pe = [d * (k - 1) - p for d, k, p in zip(dil, kernel, pe, strict=True)]
    if all(s == 1 for s in strides) and not any(op) and min(flipped_pb + flipped_pe) >= 0 and w in ctx.values:
        # Stride 1: the transposed conv is a plain Conv with the spatially flipped kernel (in/out channels
        # swapped within each group). ORT's CPU Conv runs this about 2x faster than ConvTranspose, most of
        # all for depthwise kernels, which ConvTranspose handles one group at a time.
        wv = ctx.values[w]
        cout, cin_g = wv.shape[0], wv.shape[1]
        swapped = wv.reshape(group, cout // group, cin_g, *wv.shape[2:]).swapaxes(1, 2)
        flipped = np.flip(swapped, axis=tuple(range(3, wv.ndim + 1))).reshape(
            group * cin_g, cout // group, *kernel
        )
        dx = ctx.b.op(
            "Conv",
            [dy, ctx.b.const(np.ascontiguousarray(flipped, dtype=np.float32), hint="conv_grad_kernel")],
            "conv_grad",
            group=group,
            kernel_shape=kernel,
            dilations=dil,
            pads=flipped_pb + flipped_pe,
        )
        return [dx] + [None] * (len(node.input) - 1)
    dx = ctx.b.op(
        "ConvTranspose",
        [dy, w],
        "conv_grad",
        group=group,
        kernel_shape=kernel,
        strides=strides,
        dilations=dil,
        pads=pb + pe,
        output_padding=op if any(op) else None,
    )
    return [dx] + [None] * (len(node.input) - 1)


__all__ = ["output_padding", "resolve_pads"]
