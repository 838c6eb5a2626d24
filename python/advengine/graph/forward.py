"""Preparing a classifier for differentiation: validation, static input shape, opset, and the probe run
that gives every intermediate's real shape (and the value of every image-independent tensor)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper, version_converter

from advengine.errors import GraphError, UnsupportedOpError
from advengine.graph.names import tensor_names
from advengine.graph.rules import CHECKS, RULES

#: Opset of every compiled graph: the emitted ops use the input-tensor forms of Reduce*/Split/Pad.
TARGET_OPSET = 18
_FLOATS = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}
_CONTROL_FLOW = {"If", "Loop", "Scan"}
#: Ops whose outputs are sequences or optionals: an untyped graph output would be read as a tensor.
_NON_TENSOR_OUTPUTS = {
    "SplitToSequence",
    "SequenceConstruct",
    "SequenceEmpty",
    "SequenceInsert",
    "SequenceErase",
    "Optional",
}


def image_input(model: onnx.ModelProto, name: str) -> onnx.ValueInfoProto:
    """The one graph input that is not an initializer; it must be float32."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise GraphError(
            f"{name}: expected exactly one graph input (the image), found {len(inputs)}: "
            f"{[i.name for i in inputs]}; export the classifier with a single image input"
        )
    inp: onnx.ValueInfoProto = inputs[0]
    elem = inp.type.tensor_type.elem_type
    if elem != onnx.TensorProto.FLOAT:
        raise GraphError(
            f"{name}: input {inp.name!r} is {onnx.TensorProto.DataType.Name(elem)}, not FLOAT; gradients "
            "need a float32 image input (put any uint8→float conversion outside the model)"
        )
    return inp


def fix_input_shape(model: onnx.ModelProto, name: str, batch: int, size: int | None) -> tuple[int, ...]:
    """Makes the image input static: dim 0 becomes ``batch``; for NCHW inputs, symbolic H/W become
    ``size``. Any other symbolic dimension cannot be fixed and is an error."""
    inp = image_input(model, name)
    dims = inp.type.tensor_type.shape.dim
    if not dims:
        raise GraphError(f"{name}: input {inp.name!r} has no shape; re-export with a ranked NCHW input")
    fixed: list[int] = []
    for i, d in enumerate(dims):
        if i == 0:
            if d.HasField("dim_value") and d.dim_value not in (0, batch):
                raise GraphError(
                    f"{name}: input {inp.name!r} has a fixed batch of {d.dim_value}; "
                    f"pass --batch-size {d.dim_value} "
                    "or re-export with a symbolic batch"
                )
            value = batch
        elif d.HasField("dim_value") and d.dim_value > 0:
            if size is not None and len(dims) == 4 and i >= 2 and d.dim_value != size:
                raise GraphError(
                    f"{name}: input {inp.name!r} is fixed at {d.dim_value} pixels "
                    f"but size {size} was asked for"
                )
            value = d.dim_value
        elif size is not None and len(dims) == 4 and i >= 2:
            value = size
        else:
            raise GraphError(
                f"{name}: input {inp.name!r} has a dynamic dimension {i} ({d.dim_param or '?'}) "
                "that cannot be "
                "fixed; give --size for NCHW images or re-export with static spatial dimensions"
            )
        d.Clear()
        d.dim_value = value
        fixed.append(value)
    return tuple(fixed)


def upgrade_opset(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if version >= TARGET_OPSET:
        return model
    try:
        return version_converter.convert_version(model, TARGET_OPSET)
    except Exception as exc:  # the converter raises bare RuntimeErrors/ValueErrors
        raise GraphError(
            f"{name}: cannot convert opset {version} to {TARGET_OPSET} ({' '.join(str(exc).split())[:200]}); "
            f"re-export the model at opset {TARGET_OPSET} or newer"
        ) from None


def elem_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor onnx's inference can name (types are reliable even where shapes
    are not)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference failures only cost us type information
        inferred = model
    out: dict[str, int] = {}
    g = inferred.graph
    for vi in [*g.input, *g.output, *g.value_info]:
        if vi.type.HasField("tensor_type"):
            out[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        out[init.name] = init.data_type
    return out


@dataclass
class Plan:
    """Which tensors need a gradient and which nodes the reverse pass must visit."""

    needs_grad: set[str]
    nodes: list[onnx.NodeProto]


def plan(
    model: onnx.ModelProto,
    name: str,
    source: str,
    targets: list[str],
    types: dict[str, int],
    *,
    params: Sequence[str] = (),
    input_grad: bool = True,
) -> Plan:
    """Structural pass, before anything runs: tensors on a float path from ``source`` (when
    ``input_grad``) or one of ``params`` to a target. Every node on such a path must have a VJP rule,
    else :class:`UnsupportedOpError` names it."""
    graph = model.graph
    forward = depends_on(model, [*([source] if input_grad else []), *params])
    backward = set(targets)
    for node in reversed(graph.node):
        if any(o in backward for o in node.output):
            backward.update(i for i in node.input if i)
    needs = {t for t in forward & backward if types.get(t, onnx.TensorProto.FLOAT) in _FLOATS}
    visit: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type in _CONTROL_FLOW and any(o in backward for o in node.output):
            raise UnsupportedOpError(
                f"{name}: control-flow op {node.op_type} (node {node.name or '?'!r}) "
                "is on the path to the logits; "
                "the gradient compiler supports straight-line graphs only"
            )
        if not (any(o in needs for o in node.output) and any(i in needs for i in node.input)):
            continue
        if node.domain not in ("", "ai.onnx") or node.op_type not in RULES:
            op = f"{node.domain}:{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
            raise UnsupportedOpError(
                f"{name}: op {op} (node {node.name or '?'!r}) has no gradient rule; supported ops: "
                f"{', '.join(sorted(RULES))} (re-export the model with standard ops)"
            )
        if node.op_type in CHECKS:
            CHECKS[node.op_type](node, name)
        visit.append(node)
    if input_grad and source not in needs:
        raise GraphError(
            f"{name}: the outputs do not depend on input {source!r}; there is no gradient to compute"
        )
    return Plan(needs, visit)


@dataclass
class Probe:
    shapes: dict[str, tuple[int, ...]]
    values: dict[str, np.ndarray[Any, Any]]


def probe(
    model: onnx.ModelProto,
    name: str,
    source: str,
    input_shape: tuple[int, ...],
    types: dict[str, int],
    depends: set[str],
) -> Probe:
    """Runs the forward once on random pixels with every intermediate exposed as an output.
    Shapes come from ORT itself (onnx.shape_inference disagrees with ORT on MaxPool ceil_mode)."""
    values: dict[str, np.ndarray[Any, Any]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        shapes[init.name] = tuple(int(d) for d in arr.shape)
        # A parameter being differentiated is a runtime input of the compiled graph, not a constant.
        if init.name not in depends:
            values[init.name] = arr
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    exposed: list[str] = []
    seen = set(shapes)
    for node in m.graph.node:
        if node.op_type in _NON_TENSOR_OUTPUTS:
            continue
        for o in node.output:
            if o and o not in seen:
                seen.add(o)
                exposed.append(o)
                # Where onnx's inference gives up (some function ops), ORT types the output itself.
                m.graph.output.append(
                    onnx.helper.make_tensor_value_info(o, types[o], None)
                    if o in types
                    else onnx.helper.make_empty_tensor_value_info(o)
                )
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random(input_shape, dtype=np.float32)
        outs = sess.run(exposed, {source: x})
    except Exception as exc:  # ORT raises its own exception classes with long messages
        raise GraphError(
            f"{name}: ONNX Runtime cannot run the model at input shape {list(input_shape)} "
            f"({' '.join(str(exc).split())[:300]})"
        ) from None
    shapes[source] = input_shape
    for tname, arr in zip(exposed, outs, strict=True):
        shapes[tname] = tuple(int(d) for d in np.shape(arr))
        if tname not in depends:
            values[tname] = np.asarray(arr)
    return Probe(shapes, values)


#: Ops whose output depends only on the (fixed) shape of their input, never on its values.
_SHAPE_ONLY = {"Shape", "Size"}


def depends_on(
    model: onnx.ModelProto, source: str | Iterable[str], *, through_shapes: bool = False
) -> set[str]:
    """Tensors whose *values* depend on ``source``: the image, or the image and the parameters being
    differentiated. With the batch and size fixed, Shape and Size outputs are constants, so shape-only
    subgraphs (Shape → Gather → Unsqueeze → Concat, ConstantOfShape, Range) are not image-dependent;
    ``through_shapes`` counts them too."""
    dep = {source} if isinstance(source, str) else set(source)
    for node in model.graph.node:
        if any(i in dep for i in node.input if i) and (through_shapes or node.op_type not in _SHAPE_ONLY):
            dep.update(o for o in node.output if o)
    return dep


def fold_shape_subgraphs(
    model: onnx.ModelProto, source: str, values: dict[str, np.ndarray[Any, Any]]
) -> None:
    """Replaces every node that reads the image only through its shape by initializers holding the
    probed outputs, so the compiled graph carries the shapes of its fixed batch as constants and the
    reverse pass never sees those nodes. Nodes whose outputs the probe could not type stay as they are."""
    data = depends_on(model, source)
    shaped = depends_on(model, source, through_shapes=True) - data
    kept: list[onnx.NodeProto] = []
    folded: list[onnx.TensorProto] = []
    for node in model.graph.node:
        outs = [o for o in node.output if o]
        if outs and all(o in shaped and o in values for o in outs):
            folded.extend(numpy_helper.from_array(np.asarray(values[o]), o) for o in outs)
        else:
            kept.append(node)
    if folded:
        # Keep only initializers a remaining node (or an output) reads: the inner links of a folded
        # chain and the constants that fed it are dead now (ORT would warn about each).
        del model.graph.node[:]
        model.graph.node.extend(kept)
        used = {i for n in kept for i in n.input} | {o.name for o in model.graph.output}
        for n in kept:  # names read inside If/Loop bodies
            for a in n.attribute:
                for sub in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                    used |= tensor_names(sub)
        live = [t for t in [*model.graph.initializer, *folded] if t.name in used]
        del model.graph.initializer[:]
        model.graph.initializer.extend(live)
