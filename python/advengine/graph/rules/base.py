"""What a VJP rule sees: the node, the builder, static shapes and constant values from the probe run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import onnx
from onnx import helper

from advengine.errors import GraphError
from advengine.graph.builder import GraphBuilder


@dataclass
class RuleContext:
    """Everything a rule may look at. ``shapes`` and ``values`` come from one ORT run of the forward
    graph with every intermediate exposed (ORT's shapes, not onnx.shape_inference's: they disagree on
    MaxPool ceil_mode)."""

    b: GraphBuilder
    shapes: dict[str, tuple[int, ...]]
    values: dict[str, np.ndarray[Any, Any]]
    needs_grad: set[str]
    model_name: str
    opset: int
    #: Tensors whose forward value is needed, e.g. so that a rule can read an activation's output.
    extra: dict[str, Any] = field(default_factory=dict)

    def shape(self, name: str) -> tuple[int, ...]:
        try:
            return self.shapes[name]
        except KeyError:
            raise GraphError(
                f"{self.model_name}: no static shape for tensor {name!r}; the probe run could not fix it "
                "(give --batch-size/--size so every dimension is known)"
            ) from None

    def value(self, name: str, node: onnx.NodeProto) -> np.ndarray[Any, Any]:
        if name in self.values:
            return self.values[name]
        raise GraphError(
            f"{self.model_name}: node {node.name or node.op_type!r} ({node.op_type}) needs input {name!r} "
            "to be a constant, but it depends on the image or on a parameter being differentiated; "
            "re-export the model with constant parameters or leave that parameter out"
        )

    def needs(self, name: str) -> bool:
        return bool(name) and name in self.needs_grad

    def unbroadcast(self, g: str, target: tuple[int, ...], full: tuple[int, ...]) -> str:
        """Sums a gradient of broadcast shape ``full`` back to ``target`` (numpy broadcasting rules)."""
        if tuple(target) == tuple(full):
            return g
        lead = len(full) - len(target)
        axes = list(range(lead))
        for i, t in enumerate(target):
            if t == 1 and full[lead + i] != 1:
                axes.append(lead + i)
        if axes:
            g = self.b.op("ReduceSum", [g, self.b.ints(axes, "axes")], "unbroadcast", keepdims=1)
        return self.b.reshape(g, target)


def attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """The node's attributes as Python values (bytes decoded)."""
    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


Grads = list[str | None]
Rule = Callable[[RuleContext, onnx.NodeProto, Grads], Grads]

#: op_type -> VJP rule. Populated by the rule modules through :func:`rule`.
RULES: dict[str, Rule] = {}

Check = Callable[[onnx.NodeProto, str], None]
#: op_type -> structural check run before the probe (attributes the rule cannot handle).
CHECKS: dict[str, Check] = {}


Entry = TypeVar("Entry")


def _enter(table: dict[str, Entry], op_types: tuple[str, ...]) -> Callable[[Entry], Entry]:
    """A decorator that enters its function in ``table`` under each of ``op_types``."""

    def register(fn: Entry) -> Entry:
        for op in op_types:
            table[op] = fn
        return fn

    return register


def check(*op_types: str) -> Callable[[Check], Check]:
    return _enter(CHECKS, op_types)


def rule(*op_types: str) -> Callable[[Rule], Rule]:
    return _enter(RULES, op_types)


OutputRule = Callable[[RuleContext, onnx.NodeProto, str], Grads]


def output_rule(*op_types: str) -> Callable[[OutputRule], OutputRule]:
    """Registers ``fn(ctx, node, dy) -> grads`` for ops whose gradient flows from their first output
    only (any others are statistics or indices): an output without a gradient gives none to any input,
    so ``fn`` only ever sees a real ``dy``."""

    def register(fn: OutputRule) -> OutputRule:
        def wrapped(ctx: RuleContext, node: onnx.NodeProto, grads: Grads) -> Grads:
            return [None] * len(node.input) if grads[0] is None else fn(ctx, node, grads[0])

        rule(*op_types)(wrapped)
        return fn

    return register


InputRule = Callable[[RuleContext, onnx.NodeProto, str], str]


def input_rule(*op_types: str) -> Callable[[InputRule], InputRule]:
    """Registers ``fn(ctx, node, dy) -> dx`` for single-output ops whose only differentiable input is
    the first (activations, normalisations, reductions, ...): the other inputs get no gradient, and an
    output without a gradient gives none."""

    def register(fn: InputRule) -> InputRule:
        def wrapped(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
            return [fn(ctx, node, dy), *[None] * (len(node.input) - 1)]

        output_rule(*op_types)(wrapped)
        return fn

    return register


__all__ = [
    "CHECKS",
    "RULES",
    "Grads",
    "InputRule",
    "OutputRule",
    "Rule",
    "RuleContext",
    "attrs",
    "check",
    "input_rule",
    "output_rule",
    "rule",
]
