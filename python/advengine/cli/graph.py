"""``advengine graph``: compile classifiers (or ensembles) into gradient graphs for stock onnxruntime."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import onnx
import typer

from advengine.cli._app import app, sub_app
from advengine.cli._options import JsonOption, OldBatchOption, batch_size_of, stderr_console
from advengine.errors import GraphError, ParameterError
from advengine.files import atomic_write
from advengine.graph.cache import cached
from advengine.graph.compiler import compile_gradient_graph, load_model
from advengine.graph.ensemble import FUSIONS, compile_ensemble
from advengine.graph.heads import LOSSES, check_loss
from advengine.graph.params import param_grad_name, trainable_params
from advengine.graph.steps import STEPS, check_step
from advengine.models import ensure_onnx, list_models

graph_app = sub_app(
    "Compile ONNX classifiers into gradient graphs: forward + loss + input gradient (and optionally a "
    "fused attack step) in standard ONNX ops that stock onnxruntime runs."
)
app.add_typer(graph_app, name="graph")

LossOption = Annotated[
    str,
    typer.Option(
        "--loss",
        help=f"Loss head: {', '.join(LOSSES)} (l1 reads a `target` [N, K] input; see docs/gradients.md).",
        show_default=True,
    ),
]
KappaOption = Annotated[
    float, typer.Option("--kappa", help="C&W confidence κ (cw, cw-targeted): the loss is min(margin, κ).")
]
BatchOption = Annotated[
    int, typer.Option("--batch-size", min=1, help="Fixed batch size N of the compiled graph.")
]
StepOption = Annotated[
    str | None,
    typer.Option(
        "--step",
        help=f"Fuse an attack step into the graph: {', '.join(STEPS)} "
        "(inputs x0, eps, alpha[, momentum, mu]).",
    ),
]


#: --wrt choices: (input gradient, parameter gradients).
WRT = {"input": (True, False), "params": (False, True), "both": (True, True)}


def _resolve(model: str) -> Path:
    """A path, or the name of a zoo model (built on first use)."""
    path = Path(model)
    if path.is_file():
        return path
    if model in list_models():
        return Path(ensure_onnx(model))
    raise GraphError(
        f"{model} is neither an ONNX file nor a zoo model ({', '.join(list_models())}); check the path"
    )


def _check_options(loss: str, step: str | None) -> None:
    check_loss(loss)
    if step is not None:
        check_step(step)


def _wrt_params(src: Path, wrt: str, params: list[str] | None) -> tuple[bool, list[str]]:
    """(input gradient, parameters) for --wrt/--param; --wrt params|both without --param means every
    trainable parameter."""
    if wrt not in WRT:
        raise ParameterError(f"--wrt {wrt!r} is not one of {', '.join(WRT)}")
    input_grad, with_params = WRT[wrt]
    if not with_params:
        if params:
            raise ParameterError("--param needs --wrt params or --wrt both")
        return input_grad, []
    if params:
        return input_grad, list(params)
    chosen = trainable_params(load_model(src)[0])
    if not chosen:
        raise ParameterError(f"{src} has no trainable parameters; name initializers with --param")
    return input_grad, chosen


def _describe(path: Path, out: Path, hit: bool, seconds: float) -> dict[str, Any]:
    m = onnx.load(str(path), load_external_data=False)

    def dims(vi: onnx.ValueInfoProto) -> list[int | str]:
        return [
            d.dim_value if d.HasField("dim_value") else d.dim_param for d in vi.type.tensor_type.shape.dim
        ]

    props = {p.key: p.value for p in m.metadata_props}
    params: list[str] = json.loads(props.get("advengine.wrt_params", "[]"))
    return {
        "output": str(out),
        "cache": str(path),
        "cache_hit": hit,
        "seconds": round(seconds, 3),
        "nodes": len(m.graph.node),
        "inputs": {i.name: dims(i) for i in m.graph.input},
        "outputs": {o.name: dims(o) for o in m.graph.output},
        "params": {p: param_grad_name(p) for p in params},
    }


def _report(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(
        f"wrote {info['output']} ({info['nodes']} nodes, {'cached' if info['cache_hit'] else 'compiled'} "
        f"in {info['seconds']} s)"
    )
    for kind in ("inputs", "outputs"):
        typer.echo(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in info[kind].items()))


@graph_app.command("compile")
def compile_command(
    model: Annotated[str, typer.Argument(metavar="IN", help="Classifier ONNX file (or zoo model name).")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where the gradient graph is written.")],
    loss: LossOption = "ce",
    kappa: KappaOption = 0.0,
    batch: BatchOption = 1,
    old_batch: OldBatchOption = None,
    size: Annotated[
        int | None, typer.Option("--size", min=1, help="Image side for inputs with symbolic H/W.")
    ] = None,
    step: StepOption = None,
    wrt: Annotated[
        str,
        typer.Option(
            "--wrt",
            help="Differentiate with respect to the image (`grad`), the parameters (`grad/NAME` per "
            "parameter, which become inputs), or both: input, params, both.",
        ),
    ] = "input",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="An initializer to differentiate (repeatable); default with --wrt params|both: every "
            "Conv/ConvTranspose/Gemm/MatMul weight and bias, norm scale and shift, Add/Mul operand.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compile one classifier. OUT takes the model's input and `label` (int64 [N], class index) and
    outputs `logits`, `loss` [N] and `grad` = d(sum loss)/d input; with `--wrt params|both` also
    `grad/NAME` = d(sum loss)/d NAME for each parameter NAME, which becomes an input. Cached by content
    hash."""
    err = stderr_console()
    batch = batch_size_of(batch, old_batch)
    _check_options(loss, step)
    src = _resolve(model)
    input_grad, params = _wrt_params(src, wrt, param)
    options: dict[str, Any] = {
        "kind": "single",
        "loss": loss,
        "kappa": kappa,
        "batch": batch,
        "size": size,
        "step": step,
    }
    if wrt != "input":  # keeps the cache keys of input-gradient graphs as they were
        options |= {"input_grad": input_grad, "params": params}
    what = f", {len(params)} parameters" if params else ""
    err.print(f"Compiling {src} (loss {loss}, batch {batch}{', step ' + step if step else ''}{what})")
    start = time.perf_counter()
    path, hit = cached(
        [src],
        options,
        lambda: compile_gradient_graph(
            src,
            loss=loss,
            kappa=kappa,
            batch=batch,
            size=size,
            step=step,
            wrt_params=params,
            input_grad=input_grad,
        ),
    )
    atomic_write(out, path.read_bytes())
    _report(_describe(path, out, hit, time.perf_counter() - start), as_json)


@graph_app.command("ensemble")
def ensemble_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where the gradient graph is written.")],
    models: Annotated[
        list[str], typer.Argument(metavar="MODEL...", help="Member ONNX files or zoo model names.")
    ],
    weights: Annotated[
        str | None, typer.Option("--weights", help="Comma-separated member weights (normalised to sum 1).")
    ] = None,
    fusion: Annotated[
        str, typer.Option("--fusion", help=f"How members are combined: {', '.join(FUSIONS)}.")
    ] = "logit",
    size: Annotated[int, typer.Option("--size", min=1, help="Side of the shared input image.")] = 299,
    loss: LossOption = "ce",
    kappa: KappaOption = 0.0,
    batch: BatchOption = 1,
    old_batch: OldBatchOption = None,
    step: StepOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compile K classifiers into one gradient graph on a shared SIZE×SIZE input `input`; each member
    gets its own bilinear resize to its native size."""
    err = stderr_console()
    batch = batch_size_of(batch, old_batch)
    _check_options(loss, step)
    srcs = [_resolve(m) for m in models]
    try:
        ws = None if weights is None else [float(w) for w in weights.split(",")]
    except ValueError:
        raise ParameterError(f"--weights {weights!r} must be comma-separated numbers, e.g. 1,1,2") from None
    options = {
        "kind": "ensemble",
        "loss": loss,
        "kappa": kappa,
        "batch": batch,
        "size": size,
        "step": step,
        "fusion": fusion,
        "weights": ws,
    }
    err.print(
        f"Compiling an ensemble of {len(srcs)} models ({fusion} fusion, loss {loss}, batch {batch}, {size}px)"
    )
    start = time.perf_counter()
    path, hit = cached(
        srcs,
        options,
        lambda: compile_ensemble(
            srcs, weights=ws, fusion=fusion, size=size, loss=loss, kappa=kappa, batch=batch, step=step
        ),
    )
    atomic_write(out, path.read_bytes())
    _report(_describe(path, out, hit, time.perf_counter() - start), as_json)
