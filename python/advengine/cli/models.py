"""``advengine models``: list, build, verify, import and register ONNX classifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from advengine.cli._app import app, sub_app
from advengine.cli._options import JsonOption, progress_bar, stderr_console
from advengine.data import load_dataset
from advengine.errors import GraphError, ParameterError
from advengine.graph import compile_gradient_graph
from advengine.models.accuracy import measure_accuracy
from advengine.models.cache import cached_path, ensure_onnx, is_fresh
from advengine.models.classifier import load_classifier
from advengine.models.importer import WrapOptions, import_model
from advengine.models.manifest import Manifest
from advengine.models.zoo import get_manifest, list_manifests, register_model, unregister_model

models_app = sub_app("List, build, verify and register the ONNX classifiers (the model zoo).")
app.add_typer(models_app, name="models")


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2))


def _status(m: Manifest) -> tuple[str, str]:
    """(state, path): whether the ONNX file is ready to load, and where it is or will be."""
    if m.builds_onnx:
        path = cached_path(m)
        return ("built" if is_fresh(path) else "not built"), str(path)
    assert m.onnx_path is not None
    return ("onnx file" if m.onnx_path.is_file() else "missing"), str(m.onnx_path)


def _summary(m: Manifest) -> dict[str, Any]:
    state, path = _status(m)
    return {
        "name": m.name,
        "origin": m.origin,
        "input_size": m.input_size,
        "source": m.source_kind,
        "status": state,
        "onnx": path,
        "manifest": str(m.path),
        "license": m.license,
        "reference_accuracy": [
            {"top1": r.top1, "images": r.images, "dataset": r.dataset} for r in m.reference_accuracy
        ],
    }


@models_app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """List every known model: bundled, registered, and those in $ADVENGINE_MODEL_PATH."""
    rows = [_summary(m) for m in list_manifests()]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        ref = r["reference_accuracy"]
        acc = f"ref top-1 {ref[-1]['top1']:.1%} on {ref[-1]['images']}" if ref else "no reference accuracy"
        typer.echo(f"{r['name']:<24} {r['input_size']:>4}px  {r['origin']:<10} {r['status']:<10} {acc}")


@models_app.command("build")
def build_command(
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Model to build [default: all].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the cached file is fresh.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Build the ONNX file of a bundled model (all of them by default) into the cache.

    Up-to-date builds are kept unless --force. Registered ONNX-file models are only checked.
    """
    manifests = [get_manifest(name)] if name else list_manifests()
    err = stderr_console()
    results: list[dict[str, Any]] = []
    with progress_bar(err) as bar:
        job = bar.add_task("models", total=len(manifests))
        for m in manifests:
            fresh = m.builds_onnx and is_fresh(cached_path(m))
            bar.update(job, description=f"{m.name}: checking")

            def step(text: str, model: str = m.name) -> None:
                bar.update(job, description=f"{model}: {text}")
                err.print(f"{model}: {text}")

            path = ensure_onnx(m.name, force=force, step=step)
            action = "checked" if not m.builds_onnx else ("cached" if fresh and not force else "built")
            results.append({"name": m.name, "onnx": str(path), "action": action})
            bar.advance(job)
    if as_json:
        _print_json(results)
        return
    for r in results:
        typer.echo(f"{r['name']}: {r['action']} {r['onnx']}")


@models_app.command("verify")
def verify_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model to measure.")],
    data: Annotated[
        Path,
        typer.Option("--data", help="Labelled dataset dir (images/ + dev_dataset.csv).", show_default=False),
    ],
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 50,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="ONNX Runtime intra-op threads [default: all].")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure top-1 accuracy: images resized bilinearly 299 -> the native size, argmax + 1 vs TrueLabel."""
    m = get_manifest(name)
    err = stderr_console()
    err.print(f"Loading {m.name} ({m.input_size}px)")
    clf = load_classifier(m.name, threads=threads, batch_size=batch_size)
    total = len(load_dataset(data))
    total = min(total, limit) if limit else total
    err.print(f"Classifying {total} images of {data} with {m.name}")
    with progress_bar(err) as bar:
        job = bar.add_task(m.name, total=total)

        def advance(n: int) -> None:
            bar.advance(job, n)

        report = measure_accuracy(clf, data, limit=limit, batch_size=batch_size, on_batch=advance)
    payload = report.to_dict()
    ref = next((r for r in m.reference_accuracy if r.images == report.images), None)
    payload["reference_top1"] = ref.top1 if ref else None
    if as_json:
        _print_json(payload)
        return
    line = f"{m.name}: top-1 {report.accuracy:.2%} ({report.correct}/{report.images})"
    if ref:
        line += f", reference {ref.top1:.1%} on {ref.images} images"
    typer.echo(line)
    typer.echo(f"{report.seconds:.1f} s, {report.images_per_second:.1f} images/s")


@models_app.command("register")
def register_command(
    manifest: Annotated[
        Path, typer.Argument(metavar="MANIFEST", help="JSON manifest of an ONNX classifier.")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a model registered under the same name.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Register your own ONNX classifier: checks its sha256 and contract, then copies the manifest
    into the user config dir ($ADVENGINE_CONFIG or ~/.config/advengine/models)."""
    m = register_model(manifest, force=force)
    if as_json:
        _print_json(_summary(m))
        return
    typer.echo(f"registered {m.name} -> {m.path}")


@models_app.command("unregister")
def unregister_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model.")],
) -> None:
    """Remove a registered model's manifest (its ONNX file is left alone)."""
    typer.echo(f"removed {unregister_model(name)}")


def _triple(text: str | None, option: str) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise ParameterError(f"{option} takes three comma-separated numbers (R,G,B in [0, 1]), got {text!r}")
    return (values[0], values[1], values[2])


@models_app.command("import")
def import_command(
    onnx_file: Annotated[Path, typer.Argument(metavar="FILE.onnx", help="Any ONNX ImageNet classifier.")],
    name: Annotated[str, typer.Option("--name", help="Name to register it under.", show_default=False)],
    normalization: Annotated[
        str,
        typer.Option(
            "--normalization",
            help="Input normalisation the model expects: imagenet (torchvision/timm mean/std), tf "
            "(Inception-style [-1, 1]) or none ([0, 1]).",
        ),
    ] = "imagenet",
    mean: Annotated[
        str | None, typer.Option("--mean", help="Own per-channel mean R,G,B for pixels in [0, 1].")
    ] = None,
    std: Annotated[str | None, typer.Option("--std", help="Own per-channel std R,G,B (with --mean).")] = None,
    size: Annotated[
        int | None,
        typer.Option("--size", min=8, help="Native input size S, for models with a symbolic H/W."),
    ] = None,
    labels: Annotated[
        str,
        typer.Option(
            "--labels", help="imagenet1000 (ILSVRC order) or tfslim1001 (index 0 = background, dropped)."
        ),
    ] = "imagenet1000",
    output: Annotated[
        str,
        typer.Option("--output", help="What the model emits: logits, or probs (turned into log-probs)."),
    ] = "logits",
    force: Annotated[
        bool, typer.Option("--force", help="Replace a model registered under the same name.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import your own ONNX classifier: folds the normalisation in, names the input `input` and output
    `logits`, makes the batch symbolic, and registers it in the user model dir (usable by verify, attack,
    defend and eval like any zoo model)."""
    err = stderr_console()
    with err.status(f"Importing {onnx_file} as {name}"):
        options = WrapOptions(
            normalization, _triple(mean, "--mean"), _triple(std, "--std"), size, labels, output
        )
        report = import_model(onnx_file, name, options, force=force)
        gradient = _gradient_support(report.onnx_path)
    if as_json:
        _print_json({**report.to_dict(), "gradient": gradient})
        return
    typer.echo(f"imported {name} ({report.manifest.input_size}px) -> {report.onnx_path}")
    for note in report.notes:
        typer.echo(f"  {note}")
    typer.echo(f"  gradients (attack source): {gradient if gradient == 'supported' else 'no: ' + gradient}")


def _gradient_support(onnx_file: Path) -> str:
    """ "supported", or why the gradient compiler refuses the model (it still works as a defense)."""
    try:
        compile_gradient_graph(onnx_file, loss="ce", batch=1)
    except GraphError as exc:
        return str(exc)
    return "supported"
