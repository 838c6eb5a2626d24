"""Parameters as differentiation targets: which initializers count as trainable by default, checking a
requested set, and the names of their gradient outputs (docs/gradients.md, "Gradients with respect to
parameters")."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from advengine.errors import ParameterError

#: op_type -> input positions that hold a layer's own weights (weights and biases, norm scale and shift,
#: an elementwise operand). Normalisation statistics (BN mean and variance) are not trained by gradient.
_TRAINABLE_INPUTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2),
    "ConvTranspose": (1, 2),
    "Gemm": (0, 1, 2),
    "MatMul": (0, 1),
    "BatchNormalization": (1, 2),
    "InstanceNormalization": (1, 2),
    "LayerNormalization": (1, 2),
    "Add": (0, 1),
    "Mul": (0, 1),
}


def param_grad_name(param: str) -> str:
    """The compiled graph's output holding d(Σ loss)/d ``param``."""
    return "grad/" + param


def trainable_params(model: onnx.ModelProto) -> list[str]:
    """The default parameter set: float32 initializers that are weights or biases of Conv,
    ConvTranspose, Gemm and MatMul, scale or bias of BatchNormalization, InstanceNormalization and
    LayerNormalization, or an operand of Add/Mul, in the order the graph first uses them."""
    floats = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    found: dict[str, None] = {}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        for pos in _TRAINABLE_INPUTS.get(node.op_type, ()):
            if pos < len(node.input) and node.input[pos] in floats:
                found.setdefault(node.input[pos])
    return list(found)


def check_params(model: onnx.ModelProto, name: str, wrt_params: Sequence[str]) -> list[str]:
    """``wrt_params`` without repeats, each checked to be a float32 initializer of ``model``."""
    inits = {i.name: i for i in model.graph.initializer}
    out: list[str] = []
    for p in wrt_params:
        init = inits.get(p)
        if init is None:
            some = trainable_params(model)[:6] or sorted(inits)[:6]
            raise ParameterError(
                f"{name}: parameter {p!r} is not an initializer of the model; valid ones include "
                f"{', '.join(some) if some else '(none: the model has no initializers)'}"
            )
        if init.data_type != onnx.TensorProto.FLOAT:
            kind = onnx.TensorProto.DataType.Name(init.data_type)
            raise ParameterError(
                f"{name}: parameter {p!r} is {kind}; only float32 initializers can be differentiated"
            )
        if p not in out:
            out.append(p)
    return out


__all__ = ["check_params", "param_grad_name", "trainable_params"]
