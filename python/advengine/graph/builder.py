"""Emits ONNX nodes and constants with unique names while the reverse pass is being built."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


class GraphBuilder:
    """Collects new nodes and initializers. Names carry a prefix that no forward tensor uses, so the
    gradient graph can be appended to any forward graph without clashes."""

    def __init__(self, taken: set[str], prefix: str = "grad") -> None:
        self._taken = set(taken)
        self._prefix = prefix
        self._count = 0
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._const_cache: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def fresh(self, hint: str) -> str:
        while True:
            self._count += 1
            name = f"{self._prefix}/{hint}_{self._count}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        """Adds a node with one output and returns the output's name."""
        return self.op_multi(op_type, inputs, 1, hint, **attrs)[0]

    def op_multi(
        self, op_type: str, inputs: list[str], n_out: int, hint: str | None = None, **attrs: Any
    ) -> list[str]:
        base = hint or op_type.lower()
        outputs = [self.fresh(base) for _ in range(n_out)]
        kept = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=self.fresh(f"{base}_node"), **kept))
        return outputs

    def const(self, value: Any, dtype: type | np.dtype[Any] = np.float32, hint: str = "c") -> str:
        """An initializer holding ``value``; identical small constants are shared."""
        arr = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        key = (arr.dtype.str, arr.tobytes(), arr.shape)
        if arr.size <= 64 and key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        if arr.size <= 64:
            self._const_cache[key] = name
        return name

    def ints(self, values: list[int] | tuple[int, ...], hint: str = "i") -> str:
        return self.const(np.asarray(values, dtype=np.int64), np.int64, hint)

    # Small helpers used by many rules.
    def reshape(self, x: str, shape: tuple[int, ...] | list[int]) -> str:
        return self.op("Reshape", [x, self.ints(list(shape), "shape")], "reshape")

    def mul(self, a: str, b: str) -> str:
        return self.op("Mul", [a, b])

    def prune(self, outputs: set[str]) -> None:
        """Drops the nodes (and then constants) that no tensor in ``outputs`` depends on. Nodes are in
        creation order, so each reads only earlier outputs and one backward sweep finds them all."""
        live = set(outputs)
        kept: list[onnx.NodeProto] = []
        for node in reversed(self.nodes):
            if any(o in live for o in node.output):
                kept.append(node)
                live.update(node.input)
        self.nodes = kept[::-1]
        self.initializers = [i for i in self.initializers if i.name in live]
        self._const_cache = {k: v for k, v in self._const_cache.items() if v in live}

    def zeros(self, shape: tuple[int, ...]) -> str:
        zero = numpy_helper.from_array(np.zeros(1, np.float32))
        return self.op("ConstantOfShape", [self.ints(list(shape), "shape")], "zeros", value=zero)


__all__ = ["GraphBuilder"]
