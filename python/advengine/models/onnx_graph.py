"""A small ONNX graph writer for inference-only convolutional classifiers.

Layers are emitted with the ``onnx`` package helpers only: BatchNorm is folded into the preceding
convolution (in float64, then stored as float32), TF "SAME" padding is turned into static explicit
pads for the known input size, and ReLU6 is ``Clip(0, 6)``. The input normalisation is part of the
graph so that every classifier takes pixels in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from advengine.errors import ModelError

#: ONNX opset of every built graph; IR version 8 is the one that introduced opset 17, which keeps the
#: files loadable by older onnxruntime releases too.
OPSET = 17
IR_VERSION = 8

Array = npt.NDArray[Any]


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding for one spatial axis: (before, after); the odd pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def fold_batchnorm(
    weight: Array, gamma: Array, beta: Array, mean: Array, var: Array, eps: float
) -> tuple[Array, Array]:
    """Conv weight ``[O, ...]`` and BN parameters -> one conv weight and bias (float32)."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    w = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b = beta.astype(np.float64) - mean.astype(np.float64) * scale
    return w.astype(np.float32), b.astype(np.float32)


class GraphWriter:
    """Accumulates nodes and initialisers of one NCHW graph with a fixed spatial input size."""

    def __init__(self, input_name: str, size: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.size = size
        self.input_name = input_name
        self._names: set[str] = set()

    def _unique(self, name: str) -> str:
        if name in self._names:
            raise ModelError(f"internal: duplicate tensor name {name} in the model graph")
        self._names.add(name)
        return name

    def constant(self, name: str, value: Array) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), self._unique(name)))
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, list(inputs), [self._unique(output)], name=output, **attrs))
        return output

    def normalise(self, x: str, scale: float, mean: Sequence[float], std: Sequence[float]) -> str:
        """``(x·scale − mean[c]) / std[c]`` as one Mul and one Sub with per-channel constants."""
        std64 = np.asarray(std, dtype=np.float64)
        mul = (scale / std64).astype(np.float32).reshape(1, -1, 1, 1)
        sub = (np.asarray(mean, dtype=np.float64) / std64).astype(np.float32).reshape(1, -1, 1, 1)
        y = self.node("Mul", [x, self.constant("normalise.scale", mul)], "normalise.scaled")
        return self.node("Sub", [y, self.constant("normalise.shift", sub)], "normalise.out")

    def conv(self, x: str, name: str, weight: Array, bias: Array, *, stride: int = 1, groups: int = 1) -> str:
        """A convolution with TF "SAME" static pads for the current spatial size; updates the size."""
        kernel = int(weight.shape[-1])
        before, after = same_pads(self.size, kernel, stride)
        w = self.constant(f"{name}.weight", weight)
        b = self.constant(f"{name}.bias", bias)
        out = self.node(
            "Conv",
            [x, w, b],
            f"{name}.out",
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[before, before, after, after],
            group=groups,
        )
        self.size = math.ceil(self.size / stride)
        return out

    def relu6(self, x: str, name: str) -> str:
        if "relu6.min" not in self._names:
            self.constant("relu6.min", np.array(0.0, dtype=np.float32))
            self.constant("relu6.max", np.array(6.0, dtype=np.float32))
        return self.node("Clip", [x, "relu6.min", "relu6.max"], f"{name}.relu6")

    def add(self, a: str, b: str, name: str) -> str:
        return self.node("Add", [a, b], f"{name}.residual")

    def classifier_head(self, x: str, weight: Array, bias: Array, output: str) -> str:
        """Global average pool, flatten and a fully connected layer ``y = x·Wᵀ + b``."""
        pooled = self.node("GlobalAveragePool", [x], "head.pool")
        flat = self.node("Flatten", [pooled], "head.flatten", axis=1)
        w = self.constant("fc.weight", weight.astype(np.float32))
        b = self.constant("fc.bias", bias.astype(np.float32))
        return self.node("Gemm", [flat, w, b], output, transB=1)

    def finish(
        self, graph_name: str, output: str, input_size: int, classes: int, doc: str
    ) -> onnx.ModelProto:
        """The checked model: input ``[N, 3, S, S]`` float32, output ``[N, classes]`` float32."""
        inp = helper.make_tensor_value_info(
            self.input_name, TensorProto.FLOAT, ["N", 3, input_size, input_size]
        )
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", classes])
        graph = helper.make_graph(self.nodes, graph_name, [inp], [out], initializer=self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="advengine",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


__all__ = ["IR_VERSION", "OPSET", "GraphWriter", "fold_batchnorm", "same_pads"]
