"""The gradient compiler: forward graph + loss head + reverse (VJP) pass [+ fused attack step].

Pipeline (docs/gradients.md): fix the input shape, upgrade to opset 18, check every op on the path has
a rule (before anything runs), probe the forward once with ORT for shapes and constants, then walk the
nodes in reverse, summing gradients where a tensor fans out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
from advengine.graph.heads import build_head, check_loss, head_inputs, own_label
from advengine.graph.names import RESERVED, rename_reserved
from advengine.graph.rules import RULES, RuleContext
from advengine.graph.steps import build_step, check_step, step_inputs

#: Bumped whenever compiled graphs change, so cached files of older compilers are not reused.
COMPILER_VERSION = "4"


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
) -> onnx.ModelProto:
    check_loss(loss)
    if step is not None:
        check_step(step)
        if loss == "seed":
            raise ParameterError("a fused step needs a loss head, not the seed head; use --loss ce|cw|...")
    if batch < 1:
        raise ParameterError(f"batch must be ≥ 1, got {batch}")
    model = onnx.ModelProto()
    model.CopyFrom(spec.model)
    image_input(model, name)
    model = upgrade_opset(model, name)
    input_shape = fix_input_shape(model, name, batch, size)
    # The compiled graph's own names win; clashing model tensors (a BatchNorm mean called `mu`, an
    # internal `logits`) are renamed. The reported logits may keep the name `logits`.
    reserved = set(RESERVED) | {"logits"}
    if spec.logits == "logits":
        reserved.discard("logits")
    renamed = rename_reserved(model, reserved, image_input(model, name).name)
    logits_name = renamed.get(spec.logits, spec.logits)
    terms = [(renamed.get(t, t), w) for t, w in spec.terms()]
    source = image_input(model, name).name
    taken = {t for n in model.graph.node for t in [*n.input, *n.output]} | {
        i.name for i in model.graph.initializer
    }
    types = elem_types(model)
    the_plan = plan(model, name, source, [t for t, _ in terms], types)
    shapes_values = probe(model, name, source, input_shape, types, depends_on(model, source))
    fold_shape_subgraphs(model, source, shapes_values.values)
    shapes = shapes_values.shapes
    zs = shapes.get(logits_name)
    if zs is None or len(zs) != 2 or zs[0] != batch:
        raise GraphError(f"{name}: output {spec.logits!r} has shape {zs}; expected logits [batch, classes]")
    num_classes = zs[1]

    b = GraphBuilder(taken | set(RESERVED) | {source, "logits"})
    seeds: dict[str, list[str]] = {}
    losses: list[str] = []
    label = "label" if loss == "seed" else own_label(b, logits_name)
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
    grad = reverse(ctx, the_plan.nodes, seeds, source)

    outputs: list[onnx.ValueInfoProto] = []
    f32 = onnx.TensorProto.FLOAT
    if logits_name != "logits":
        b.nodes.append(helper.make_node("Identity", [logits_name], ["logits"]))
    outputs.append(helper.make_tensor_value_info("logits", f32, [batch, num_classes]))
    b.nodes.append(helper.make_node("Identity", [loss_vec], ["loss"]))
    outputs.append(helper.make_tensor_value_info("loss", f32, [batch]))
    inputs = [image_input(model, name), *head_inputs(loss, batch, num_classes)]
    # `grad` is an output of step graphs too (tests compare the step against it); runners that do not
    # bind it never copy it anywhere.
    b.nodes.append(helper.make_node("Identity", [grad], ["grad"]))
    outputs.append(helper.make_tensor_value_info("grad", f32, list(input_shape)))
    if step is not None:
        fused = build_step(b, step, source, grad, input_shape)
        b.nodes.append(helper.make_node("Identity", [fused.x_next], ["x_next"]))
        outputs.append(helper.make_tensor_value_info("x_next", f32, list(input_shape)))
        if fused.m_next is not None:
            b.nodes.append(helper.make_node("Identity", [fused.m_next], ["m_next"]))
            outputs.append(helper.make_tensor_value_info("m_next", f32, list(input_shape)))
        inputs += step_inputs(step, input_shape)

    g = model.graph
    graph = helper.make_graph(
        [*g.node, *b.nodes],
        f"{g.name or 'model'}_grad_{loss}" + (f"_{step}" if step else ""),
        inputs,
        outputs,
        initializer=[*g.initializer, *b.initializers],
    )
    opsets = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    version = max(TARGET_OPSET, *(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", version), *opsets])
    out.ir_version = max(min(model.ir_version, 10), 8)
    out.producer_name = "advengine.graph"
    helper.set_model_props(
        out, {"advengine.loss": loss, "advengine.step": step or "", "advengine.kappa": str(kappa)}
    )
    try:
        onnx.checker.check_model(out)
    except onnx.checker.ValidationError as exc:
        raise GraphError(
            f"{name}: the compiled graph is invalid ({' '.join(str(exc).split())[:300]})"
        ) from None
    return out


def reverse(ctx: RuleContext, nodes: list[onnx.NodeProto], seeds: dict[str, list[str]], source: str) -> str:
    """Walks ``nodes`` (topologically sorted) backwards, applying each op's VJP rule; a tensor used by
    several consumers gets the Sum of their contributions. Returns the gradient of ``source``."""
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
        for tensor, g in zip(node.input, in_grads, strict=False):
            if g is not None and tensor in ctx.needs_grad:
                pending.setdefault(tensor, []).append(g)
    result = total(source)
    if result is None:
        raise GraphError(f"{ctx.model_name}: no gradient reaches input {source!r}")
    return result


def compile_gradient_graph(
    model: onnx.ModelProto | str | Path,
    *,
    loss: str = "ce",
    kappa: float = 0.0,
    batch: int = 1,
    size: int | None = None,
    step: str | None = None,
) -> onnx.ModelProto:
    """Compiles one classifier. The result takes the model's input and ``label`` (int64 [N]; or
    ``seed`` [N, K] for the seed head) and outputs ``logits``, ``loss`` [N] and ``grad`` =
    d(Σ loss)/d input, or with ``step`` the fused update's ``x_next`` (and ``m_next``)."""
    proto, name = load_model(model)
    return compile_spec(
        single_model_spec(proto, name), name, loss=loss, kappa=kappa, batch=batch, size=size, step=step
    )


__all__ = [
    "COMPILER_VERSION",
    "ForwardSpec",
    "compile_gradient_graph",
    "compile_spec",
    "load_model",
    "reverse",
]
