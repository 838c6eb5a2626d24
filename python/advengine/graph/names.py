"""Keeps the compiled graph's own tensor names (``label``, ``loss``, ``grad``, ``mu``, ...) apart from a
user's: any model tensor that uses one is renamed before compiling, so no model is refused for its
names."""

from __future__ import annotations

import onnx

#: Names the compiled graph defines itself (inputs, outputs and step parameters).
RESERVED = (
    "label",
    "seed",
    "target",
    "x0",
    "eps",
    "alpha",
    "momentum",
    "mu",
    "loss",
    "grad",
    "x_next",
    "m_next",
)


def tensor_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name ``graph`` mentions, subgraphs (If/Loop bodies) included."""
    names = {t for n in graph.node for t in [*n.input, *n.output] if t}
    names |= {i.name for i in graph.initializer}
    names |= {v.name for v in [*graph.input, *graph.output, *graph.value_info]}
    for node in graph.node:
        for a in node.attribute:
            for sub in (
                [a.g, *a.graphs] if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) else []
            ):
                names |= tensor_names(sub)
    return names


def _apply(graph: onnx.GraphProto, mapping: dict[str, str]) -> None:
    for node in graph.node:
        node.input[:] = [mapping.get(t, t) for t in node.input]
        node.output[:] = [mapping.get(t, t) for t in node.output]
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _apply(a.g, mapping)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    _apply(sub, mapping)
    for init in graph.initializer:
        init.name = mapping.get(init.name, init.name)
    for v in [*graph.input, *graph.output, *graph.value_info]:
        v.name = mapping.get(v.name, v.name)


def rename_reserved(model: onnx.ModelProto, reserved: set[str], source: str) -> dict[str, str]:
    """Renames, in place, every tensor of ``model`` whose name is in ``reserved``: the image input
    ``source`` becomes ``input`` (or ``input_1``, ...), any other tensor gets a ``.model`` suffix.
    Returns the mapping old → new (empty when nothing clashed)."""
    taken = tensor_names(model.graph) | reserved
    mapping: dict[str, str] = {}
    for name in sorted(tensor_names(model.graph) & reserved):
        base = "input" if name == source else f"{name}.model"
        new, i = base, 0
        while new in taken:
            i += 1
            new = f"{base}_{i}"
        taken.add(new)
        mapping[name] = new
    if mapping:
        _apply(model.graph, mapping)
    return mapping


__all__ = ["RESERVED", "rename_reserved", "tensor_names"]
