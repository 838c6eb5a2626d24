"""A denoiser in front of a classifier, composed into one classifier graph (a ``denoised`` manifest).

The composed file meets the classifier contract (``input`` [N, 3, S, S] in [0, 1] → ``logits``), so
everything that takes a zoo model takes it: defenses run it like any classifier, and the gradient
compiler differentiates through the denoiser and the classifier together, which is what white-box
and adaptive attacks on the ``hgd`` defense need (a denoiser is no obstacle to gradients).
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import helper

from advengine.errors import ModelError
from advengine.models.onnx_contract import check_onnx_contract

#: Every tensor and node of the denoiser is renamed under this prefix, except the shared ``input``.
DENOISER_PREFIX = "denoiser/"
DENOISER_OUTPUT = "denoised"
INPUT = "input"


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]


def _check_denoiser(denoiser: onnx.ModelProto, size: int, where: str) -> None:
    g = denoiser.graph
    inits = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if [i.name for i in inputs] != [INPUT] or [o.name for o in g.output] != [DENOISER_OUTPUT]:
        raise ModelError(
            f"{where}: a denoiser maps one input 'input' to one output 'denoised', this one has inputs "
            f"{[i.name for i in inputs]} and outputs {[o.name for o in g.output]}"
        )
    for value in (inputs[0], g.output[0]):
        dims = _dims(value)
        if len(dims) != 4 or dims[1:] != [3, size, size]:
            raise ModelError(
                f"{where}: the denoiser's {value.name!r} has shape {dims}, but the classifier takes "
                f"[N, 3, {size}, {size}]"
            )


def _rename(names: Any, mapping: dict[str, str]) -> None:
    """Rename the entries of a protobuf repeated string field (node inputs/outputs) in place."""
    for i in range(len(names)):
        if names[i]:
            names[i] = mapping.get(names[i], names[i])


def compose_denoised(
    denoiser: onnx.ModelProto, classifier: onnx.ModelProto, *, input_size: int, name: str
) -> onnx.ModelProto:
    """One graph: ``input`` → denoiser → classifier → ``logits``; checked against the contract."""
    where = f"model {name}"
    _check_denoiser(denoiser, input_size, where)
    den = onnx.GraphProto()
    den.CopyFrom(denoiser.graph)
    clf = onnx.GraphProto()
    clf.CopyFrom(classifier.graph)
    tensors = {t for n in den.node for t in [*n.input, *n.output]} | {t.name for t in den.initializer}
    mapping = {t: DENOISER_PREFIX + t for t in tensors if t and t != INPUT}
    for node in den.node:
        _rename(node.input, mapping)
        _rename(node.output, mapping)
        node.name = DENOISER_PREFIX + (node.name or node.output[0])
    for t in den.initializer:
        t.name = mapping[t.name]
    clf_tensors = {t for n in clf.node for t in [*n.input, *n.output]} | {t.name for t in clf.initializer}
    clash = sorted(clf_tensors & set(mapping.values()))
    if clash:
        raise ModelError(f"{where}: the classifier already has a tensor named {clash[0]!r}")
    fed = mapping[DENOISER_OUTPUT]
    for node in clf.node:
        _rename(node.input, {INPUT: fed})
    graph = helper.make_graph(
        [*den.node, *clf.node],
        name,
        list(den.input[:1]),
        list(clf.output),
        initializer=[*den.initializer, *clf.initializer],
    )
    # Symbolic batch, as the contract asks (the denoiser file may name the dimension differently).
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    opsets: dict[str, int] = {}
    for o in [*denoiser.opset_import, *classifier.opset_import]:
        opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
        producer_name="advengine",
        doc_string=f"{name}: denoiser ({denoiser.graph.name}) in front of {classifier.graph.name}",
    )
    model.ir_version = max(denoiser.ir_version, classifier.ir_version)
    onnx.checker.check_model(model)
    check_onnx_contract(model, input_size)
    return model


__all__ = ["DENOISER_PREFIX", "compose_denoised"]
