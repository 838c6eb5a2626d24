"""The gradient compiler: forward graph + loss head + reverse (VJP) pass [+ fused attack step].

Pipeline (docs/gradients.md): fix the input shape, upgrade to opset 18, check every op on the path has
a rule (before anything runs), probe the forward once with ORT for shapes and constants, then walk the
nodes in reverse, summing gradients where a tensor fans out. The differentiation targets are the image
and/or chosen initializers (``wrt_params``), which then become graph inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

import onnx
from onnx import helper

from advengine.errors import GraphError, ParameterError
from advengine.graph.builder import GraphBuilder
from advengine.graph.forward import (
    TARGET_OPSET,
    depends_on,
    elem_types,
    fix_input_shape,
    fold_shape_subgraphs,
    image_input,
    plan,
    probe,
    upgrade_opset,
)
from advengine.graph.heads import build_head, check_loss, head_inputs, own_label, uses_label
from advengine.graph.names import RESERVED, rename_reserved
from advengine.graph.params import check_params, param_grad_name, trainable_params
from advengine.graph.rules import RULES, RuleContext
from advengine.graph.steps import build_step, check_step, step_inputs

#: Bumped whenever compiled graphs change, so cached files of older compilers are not reused.
COMPILER_VERSION = "5"


@dataclass
class ForwardSpec:
    """A forward graph with one image input, the tensor reported as ``logits``, and the logit tensors
    the loss head is applied to with their weights (one entry for a single model or a fused
    ensemble; one per member for loss fusion)."""

    model: onnx.ModelProto
    logits: str
    loss_terms: list[tuple[str, float]] = field(default_factory=list)

    def terms(self) -> list[tuple[str, float]]:
        return self.loss_terms or [(self.logits, 1.0)]


def load_model(source: onnx.ModelProto | str | Path) -> tuple[onnx.ModelProto, str]:
    """The model and a name for messages. Unreadable files are a GraphError with the path."""
    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "model"
    path = Path(source)
    if not path.is_file():
        raise GraphError(f"ONNX model {path} not found; check the path")
    try:
        return onnx.load(str(path)), str(path)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise GraphError(
            f"{path} is not a readable ONNX model ({type(exc).__name__}); re-export it"
        ) from None


def single_model_spec(model: onnx.ModelProto, name: str) -> ForwardSpec:
    if len(model.graph.output) < 1:
        raise GraphError(f"{name}: the model has no outputs")
    return ForwardSpec(model, model.graph.output[0].name)


def compile_spec(
    spec: ForwardSpec,
    name: str,
    *,
    loss: str = "ce",
    kappa: float = 0.0,
    batch: int = 1,
    size: int | None = None,
    step: str | None = None,
    wrt_params: Sequence[str] | None = None,
    input_grad: bool = True,
) -> onnx.ModelProto:
    """Compiles ``spec`` (see :func:`compile_gradient_graph` for the graph's interface)."""
    check_loss(loss)
    if step is not None:
        check_step(step)
        if loss == "seed":
            raise ParameterError("a fused step needs a loss head, not the seed head; use --loss ce|cw|...")
        if not input_grad:
            raise ParameterError(
                "a fused step moves the image along its gradient; it needs the input gradient"
            )
    if batch < 1:
        raise ParameterError(f"batch must be ≥ 1, got {batch}")
    params = check_params(spec.model, name, wrt_params or [])
    if not input_grad and not params:
        raise ParameterError(
            f"{name}: nothing to differentiate (no input gradient and no parameters); "
            "name parameters or ask for the input gradient"
        )
    model = onnx.ModelProto()
    model.CopyFrom(spec.model)
    image_input(model, name)
    model = upgrade_opset(model, name)
    input_shape = fix_input_shape(model, name, batch, size)
    # The compiled graph's own names win; clashing model tensors (a BatchNorm mean called `mu`, an
    # internal `logits`) are renamed. The reported logits may keep the name `logits`.
    reserved = set(RESERVED) | {"logits"} | {param_grad_name(p) for p in params}
    if spec.logits == "logits":
        reserved.discard("logits")
    renamed = rename_reserved(model, reserved, image_input(model, name).name)
    logits_name = renamed.get(spec.logits, spec.logits)
    params = [renamed.get(p, p) for p in params]
    terms = [(renamed.get(t, t), w) for t, w in spec.terms()]
    source = image_input(model, name).name
    taken = {t for n in model.graph.node for t in [*n.input, *n.output]} | {
        i.name for i in model.graph.initializer
    }
    types = elem_types(model)
    the_plan = plan(model, name, source, [t for t, _ in terms], types, params=params, input_grad=input_grad)
    # Tensors that depend on a parameter being differentiated are runtime values, never baked constants.
    shapes_values = probe(model, name, source, input_shape, types, depends_on(model, [source, *params]))
    fold_shape_subgraphs(model, source, shapes_values.values)
    shapes = shapes_values.shapes
    zs = shapes.get(logits_name)
    if zs is None or len(zs) != 2 or zs[0] != batch:
        raise GraphError(f"{name}: output {spec.logits!r} has shape {zs}; expected logits [batch, classes]")
    num_classes = zs[1]

    grad_names = {p: param_grad_name(p) for p in params}
    b = GraphBuilder(taken | set(RESERVED) | {source, "logits"} | set(grad_names.values()))
    seeds: dict[str, list[str]] = {}
    losses: list[str] = []
    label = own_label(b, logits_name) if uses_label(loss) else "label"
    for z, w in terms:
        head = build_head(b, loss, z, num_classes, kappa, label)
        dz, per_sample = head.dz, head.loss
        if len(terms) > 1 or w != 1.0:
            dz = b.mul(dz, b.const(w))
            per_sample = b.mul(per_sample, b.const(w))
        seeds.setdefault(z, []).append(dz)
        losses.append(per_sample)
    loss_vec = losses[0] if len(losses) == 1 else b.op("Sum", losses)

    ctx = RuleContext(b, shapes, shapes_values.values, the_plan.needs_grad, name, TARGET_OPSET)
    strict = depends_on(model, params) & the_plan.needs_grad
    grads = reverse(ctx, the_plan.nodes, seeds, [source, *params], strict=strict)

    outputs: list[onnx.ValueInfoProto] = []
    f32 = onnx.TensorProto.FLOAT
    if logits_name != "logits":
        b.nodes.append(helper.make_node("Identity", [logits_name], ["logits"]))
    outputs.append(helper.make_tensor_value_info("logits", f32, [batch, num_classes]))
    b.nodes.append(helper.make_node("Identity", [loss_vec], ["loss"]))
    outputs.append(helper.make_tensor_value_info("loss", f32, [batch]))
    inputs = [image_input(model, name), *head_inputs(loss, batch, num_classes)]
    grad: str | None = None
    if input_grad:
        grad = grads[source]
        if grad is None:
            raise GraphError(f"{name}: no gradient reaches input {source!r}")
        # `grad` is an output of step graphs too (tests compare the step against it); runners that do
        # not bind it never copy it anywhere.
        b.nodes.append(helper.make_node("Identity", [grad], ["grad"]))
        outputs.append(helper.make_tensor_value_info("grad", f32, list(input_shape)))
    if step is not None and grad is not None:  # a step implies the input gradient (checked above)
        fused = build_step(b, step, source, grad, input_shape)
        b.nodes.append(helper.make_node("Identity", [fused.x_next], ["x_next"]))
        outputs.append(helper.make_tensor_value_info("x_next", f32, list(input_shape)))
        if fused.m_next is not None:
            b.nodes.append(helper.make_node("Identity", [fused.m_next], ["m_next"]))
            outputs.append(helper.make_tensor_value_info("m_next", f32, list(input_shape)))
        inputs += step_inputs(step, input_shape)
    for p in params:
        shape = list(shapes[p])
        inputs.append(helper.make_tensor_value_info(p, f32, shape))
        # A parameter the loss does not depend on has a zero gradient.
        pg = grads[p] or b.zeros(shapes[p])
        b.nodes.append(helper.make_node("Identity", [pg], [grad_names[p]]))
        outputs.append(helper.make_tensor_value_info(grad_names[p], f32, shape))
    # Rules emit every input's VJP; the ones no output needs (dX of a graph trained for its parameters
    # only) are dropped here rather than left for ORT to compute.
    b.prune({o.name for o in outputs})

    g = model.graph
    graph = helper.make_graph(
        [*g.node, *b.nodes],
        f"{g.name or 'model'}_grad_{loss}" + (f"_{step}" if step else ""),
        inputs,
        outputs,
        initializer=[*(i for i in g.initializer if i.name not in grad_names), *b.initializers],
    )
    opsets = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    version = max(TARGET_OPSET, *(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", version), *opsets])
    out.ir_version = max(min(model.ir_version, 10), 8)
    out.producer_name = "advengine.graph"
    helper.set_model_props(
        out,
        {
            "advengine.loss": loss,
            "advengine.step": step or "",
            "advengine.kappa": str(kappa),
            "advengine.input_grad": str(input_grad).lower(),
            "advengine.wrt_params": json.dumps(params),
        },
    )
    try:
        onnx.checker.check_model(out)
    except onnx.checker.ValidationError as exc:
        raise GraphError(
            f"{name}: the compiled graph is invalid ({' '.join(str(exc).split())[:300]})"
        ) from None
    return out


def reverse(
    ctx: RuleContext,
    nodes: list[onnx.NodeProto],
    seeds: dict[str, list[str]],
    wanted: list[str],
    *,
    strict: set[str] | None = None,
) -> dict[str, str | None]:
    """Walks ``nodes`` (topologically sorted) backwards, applying each op's VJP rule; a tensor used by
    several consumers gets the Sum of their contributions. Returns the gradient of each ``wanted``
    tensor (None where none reaches it). A rule that gives no gradient to a ``strict`` input (one that
    depends on a parameter) is an error: a silently partial parameter gradient would train wrongly."""
    pending: dict[str, list[str]] = {k: list(v) for k, v in seeds.items()}
    b = ctx.b

    def total(tensor: str) -> str | None:
        parts = pending.get(tensor)
        if not parts:
            return None
        if len(parts) > 1:
            pending[tensor] = [b.op("Sum", parts, "fanout")]
        return pending[tensor][0]

    for node in reversed(nodes):
        out_grads = [total(o) if o in ctx.needs_grad else None for o in node.output]
        if all(g is None for g in out_grads):
            continue
        in_grads = RULES[node.op_type](ctx, node, out_grads)
        for i, tensor in enumerate(node.input):
            g = in_grads[i] if i < len(in_grads) else None
            if g is not None and tensor in ctx.needs_grad:
                pending.setdefault(tensor, []).append(g)
            elif g is None and strict and tensor in strict:
                raise GraphError(
                    f"{ctx.model_name}: {node.op_type} node {node.name or '?'!r} has no gradient for its "
                    f"input {tensor!r}, which depends on a parameter being differentiated; leave that "
                    "parameter out"
                )
    return {t: total(t) for t in wanted}


class CompileOptions(TypedDict, total=False):
    """The keyword options of :func:`compile_spec` (its signature holds the defaults), which
    :func:`compile_gradient_graph` passes on unchanged."""

    loss: str
    kappa: float
    batch: int
    size: int | None
    step: str | None
    wrt_params: Sequence[str] | None
    input_grad: bool


def compile_gradient_graph(
    model: onnx.ModelProto | str | Path, **options: Unpack[CompileOptions]
) -> onnx.ModelProto:
    """Compiles one classifier. The result takes the model's input and ``label`` (int64 [N]; or
    ``seed`` / ``target`` [N, K] for the seed / l1 heads) and outputs ``logits``, ``loss`` [N] and
    ``grad`` = d(Σ loss)/d input (unless ``input_grad`` is False), with ``step`` also the fused
    update's ``x_next`` (and ``m_next``). Each initializer named in ``wrt_params`` becomes a float32
    graph input of the same name and shape, and the output ``param_grad_name(p)`` = d(Σ loss)/d p."""
    proto, name = load_model(model)
    return compile_spec(single_model_spec(proto, name), name, **options)


__all__ = [
    "COMPILER_VERSION",
    "CompileOptions",
    "ForwardSpec",
    "compile_gradient_graph",
    "compile_spec",
    "load_model",
    "param_grad_name",
    "reverse",
    "trainable_params",
]
