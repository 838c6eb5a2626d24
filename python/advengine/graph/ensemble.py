"""K classifiers in one graph sharing the input image. Each member gets its own differentiable bilinear
resize from the shared size (299 for NIPS17 images) to its native size: ORT's ``Resize`` (linear,
half-pixel centres, no antialias) forward, and in the reverse pass the Resize rule's two MatMuls with
constant interpolation matrices (graph/rules/resize.py). Until issue 25 the forward was those two
MatMuls too, a dense 299-long dot product per output pixel: 11 % of a Lite0 step at 299², against
under 1 % for the Resize.

Weights are normalised to sum to 1. Fusion:
* ``logit``: Z = Σ wᵢ Zᵢ, one head on Z;
* ``prob``: Z = log Σ wᵢ softmax(Zᵢ) (log-probabilities act as logits; softmax(Z) is the mixture);
* ``loss``: loss = Σ wᵢ loss(Zᵢ); the reported logits are Σ wᵢ Zᵢ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import compose, helper, numpy_helper

from advengine.errors import GraphError, ParameterError
from advengine.graph.compiler import ForwardSpec, compile_spec, load_model
from advengine.graph.forward import TARGET_OPSET, image_input, upgrade_opset

FUSIONS = ("logit", "prob", "loss")


def _native_size(model: onnx.ModelProto, name: str, size: int) -> int:
    dims = image_input(model, name).type.tensor_type.shape.dim
    if len(dims) != 4:
        raise GraphError(f"{name}: ensemble members need an NCHW image input, found rank {len(dims)}")
    h, w = dims[2], dims[3]
    if h.HasField("dim_value") and w.HasField("dim_value"):
        if h.dim_value != w.dim_value:
            raise GraphError(f"{name}: non-square input {h.dim_value}×{w.dim_value} is not supported")
        return int(h.dim_value)
    return size


def ensemble_spec(
    models: Sequence[onnx.ModelProto | str | Path], weights: Sequence[float] | None, fusion: str, size: int
) -> tuple[ForwardSpec, str]:
    if fusion not in FUSIONS:
        raise ParameterError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    if not models:
        raise ParameterError("an ensemble needs at least one model")
    ws = [1.0] * len(models) if weights is None else [float(w) for w in weights]
    if len(ws) != len(models) or any(w < 0 for w in ws) or sum(ws) <= 0:
        raise ParameterError(
            f"ensemble weights {list(ws)} do not fit {len(models)} models; give one non-negative weight per "
            "model with a positive sum"
        )
    ws = [w / sum(ws) for w in ws]
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    logits: list[str] = []
    names: list[str] = []
    opset = TARGET_OPSET
    for i, source in enumerate(models):
        proto, name = load_model(source)
        names.append(name)
        proto = upgrade_opset(proto, name)
        opset = max(opset, *(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")))
        native = _native_size(proto, name, size)
        member = compose.add_prefix(proto, f"m{i}/")
        inp = image_input(member, name).name
        if native == size:
            nodes.append(helper.make_node("Identity", ["input"], [inp]))
        else:
            # ORT's Resize forward (4 reads per output pixel); its VJP is the Resize rule's two
            # MatMuls. Two MatMuls forward cost 11 % of a Lite0 step at 299² (docs/benchmarks.md).
            inits.append(numpy_helper.from_array(np.array([native, native], np.int64), f"m{i}/resize_sizes"))
            nodes.append(
                helper.make_node(
                    "Resize",
                    ["input", "", "", f"m{i}/resize_sizes"],
                    [inp],
                    mode="linear",
                    coordinate_transformation_mode="half_pixel",
                    axes=[2, 3],
                )
            )
        nodes.extend(member.graph.node)
        inits.extend(member.graph.initializer)
        logits.append(member.graph.output[0].name)
    terms: list[tuple[str, float]] = []
    for i, (z, w) in enumerate(zip(logits, ws, strict=True)):
        inits.append(numpy_helper.from_array(np.array(w, np.float32), f"ens/w{i}"))
        if fusion == "prob":
            nodes.append(helper.make_node("Softmax", [z], [f"ens/p{i}"], axis=1))
            z = f"ens/p{i}"
        nodes.append(helper.make_node("Mul", [z, f"ens/w{i}"], [f"ens/term{i}"]))
        terms.append((logits[i], w))
    mixed = "ens/mixed" if fusion == "prob" else "ens/logits"
    nodes.append(helper.make_node("Sum", [f"ens/term{i}" for i in range(len(models))], [mixed]))
    if fusion == "prob":
        nodes.append(helper.make_node("Log", [mixed], ["ens/logits"]))
    graph = helper.make_graph(
        nodes,
        "ensemble",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("ens/logits", onnx.TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    spec = ForwardSpec(model, "ens/logits", terms if fusion == "loss" else [])
    return spec, "ensemble(" + ", ".join(names) + ")"


def compile_ensemble(
    models: Sequence[onnx.ModelProto | str | Path],
    *,
    weights: Sequence[float] | None = None,
    fusion: str = "logit",
    size: int = 299,
    loss: str = "ce",
    kappa: float = 0.0,
    batch: int = 1,
    step: str | None = None,
) -> onnx.ModelProto:
    """One gradient graph for K models on a shared ``size``×``size`` input (named ``input``)."""
    spec, name = ensemble_spec(models, weights, fusion, size)
    return compile_spec(spec, name, loss=loss, kappa=kappa, batch=batch, size=size, step=step)


__all__ = ["FUSIONS", "compile_ensemble", "ensemble_spec"]
