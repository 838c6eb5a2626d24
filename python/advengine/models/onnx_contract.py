"""The classifier contract every model file must meet (docs/architecture.md, ``advengine.models``).

Input ``input`` float32 ``[N, 3, S, S]`` in [0, 1] with ``N`` symbolic, output ``logits`` float32
``[N, 1000]``, opset ≥ 17 of the default domain, no custom domains (declared in ``opset_import`` or
only named by a node, subgraphs and local functions included), and external tensor data only in
files next to the model (no absolute path, no ``..``). Attacks and the gradient compiler rely on all
of it, so a registered model is checked before it is accepted.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from advengine.errors import ModelError

MIN_OPSET = 17
CLASSES = 1000
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """``graph`` and every subgraph of its nodes (If / Loop / Scan bodies), recursively."""
    out = [graph]
    for node in graph.node:
        for attr in node.attribute:
            subs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            for sub in subs:
                out += _graphs(sub)
    return out


def _nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    nodes = [n for g in _graphs(model.graph) for n in g.node]
    return nodes + [n for f in model.functions for n in f.node]


def _check_external_data(model: onnx.ModelProto, where: str, base: Path | None) -> None:
    """External tensor files must be plain relative names below the model's directory, and exist."""
    tensors = [t for g in _graphs(model.graph) for t in g.initializer]
    for t in tensors:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in t.external_data if e.key == "location"), "")
        parts = Path(location).parts
        if not location or Path(location).is_absolute() or ".." in parts or "\\" in location:
            raise ModelError(
                f"{where}: tensor {t.name!r} keeps its data in {location!r}; external data must be a "
                "relative path next to the model (no absolute path, no '..'): re-save the model"
            )
        if base is not None and not (base / location).is_file():
            raise ModelError(f"{where}: external data file {location!r} of tensor {t.name!r} does not exist")


def _dims(value: onnx.ValueInfoProto) -> list[int | str | None]:
    shape = value.type.tensor_type.shape
    out: list[int | str | None] = []
    for d in shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def check_onnx_contract(model: onnx.ModelProto | Path, input_size: int) -> None:
    """Raise :class:`~advengine.errors.ModelError` (one line) unless ``model`` meets the contract."""
    where = str(model) if isinstance(model, Path) else "the model"
    base = model.parent if isinstance(model, Path) else None
    if isinstance(model, Path):
        try:
            model = onnx.load(str(model), load_external_data=False)
        except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not an ONNX file"
            raise ModelError(f"{where} is not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    fix = "(advengine classifiers take `input` float32 [N,3,S,S] in [0,1] and emit `logits` float32 [N,1000])"
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    custom = sorted(d for d in opsets if d not in ("ai.onnx", "ai.onnx.ml"))
    if custom:
        raise ModelError(
            f"{where} uses the custom op domain {custom[0]!r}; only standard ONNX ops are supported"
        )
    undeclared = sorted({n.domain for n in _nodes(model)} - set(STANDARD_DOMAINS))
    if undeclared:
        raise ModelError(
            f"{where}: node(s) use the custom op domain {undeclared[0]!r}; "
            "only standard ONNX ops are supported"
        )
    _check_external_data(model, where, base)
    if opsets.get("ai.onnx", 0) < MIN_OPSET:
        raise ModelError(
            f"{where} uses opset {opsets.get('ai.onnx', 0)}; opset {MIN_OPSET} or newer is required "
            "(convert it with onnx.version_converter)"
        )
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if [i.name for i in inputs] != ["input"]:
        raise ModelError(
            f"{where} must have exactly one input named 'input', has {[i.name for i in inputs]} {fix}"
        )
    if [o.name for o in model.graph.output] != ["logits"]:
        names = [o.name for o in model.graph.output]
        raise ModelError(f"{where} must have exactly one output named 'logits', has {names} {fix}")
    inp, out = inputs[0], model.graph.output[0]
    for value in (inp, out):
        if value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ModelError(f"{where}: '{value.name}' must be float32 {fix}")
    dims = _dims(inp)
    odims = _dims(out)
    # N is symbolic, or a batch an import could not make symbolic, fixed alike in the input and the
    # logits: the classifier and the attack sources then run calls of exactly N images.
    batch_ok = not isinstance(dims[0], int) if dims else False
    if dims and isinstance(dims[0], int) and dims[0] >= 1 and odims and odims[0] == dims[0]:
        batch_ok = True
    if len(dims) != 4 or not batch_ok or dims[1:] != [3, input_size, input_size]:
        raise ModelError(
            f"{where}: 'input' has shape {dims}, expected [N, 3, {input_size}, {input_size}] with N symbolic "
            "(or fixed in both 'input' and 'logits'; check the manifest's input_size)"
        )
    if len(odims) != 2 or odims[1] != CLASSES:
        raise ModelError(f"{where}: 'logits' has shape {odims}, expected [N, {CLASSES}] {fix}")


def fixed_batch(model: onnx.ModelProto | Path) -> int | None:
    """The batch a contract model is fixed at (its input's first dimension), None when symbolic."""
    if isinstance(model, Path):
        model = onnx.load(str(model), load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    inp = next(i for i in model.graph.input if i.name not in initializers)
    first = _dims(inp)[0]
    return first if isinstance(first, int) and first > 0 else None


__all__ = ["MIN_OPSET", "check_onnx_contract", "fixed_batch"]
