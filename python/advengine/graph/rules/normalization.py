"""BatchNormalization in inference mode is a per-channel affine map: dX = dY · scale/√(var+ε)."""

from __future__ import annotations

import numpy as np
import onnx

from advengine.errors import GraphError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, rule


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
