"""``advengine train attack-fcn``: train iwiwi's attack FCN on ONNX Runtime (docs/fcn.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from advengine.cli._options import JsonOption, progress_bar, stderr_console
from advengine.cli.train import train_app
from advengine.context import RunContext
from advengine.training import FcnSettings, StepReport, fcn_settings, train_attack_fcn


def _default(field: str) -> Any:
    """The settings model's default, so the CLI and the Python API cannot drift apart."""
    return FcnSettings.model_fields[field].default


@train_app.command("attack-fcn")
def attack_fcn_command(
    data: Annotated[
        Path, typer.Option("--data", help="Dataset dir (images/ + dev_dataset.csv with true labels).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Run dir: checkpoint, snapshots, exported FCN.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Train up to this many steps.")] = 500,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per step.")] = _default(
        "batch_size"
    ),
    lr: Annotated[float, typer.Option("--lr", help="Adam step size.")] = _default("lr"),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the init, batches, budgets and augmentation.")
    ] = _default("seed"),
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Models whose summed cross-entropy the FCN raises, comma-separated "
            "(default: efficientnet-lite0,efficientnet-lite1).",
        ),
    ] = None,
    hint_model: Annotated[
        str, typer.Option("--hint-model", help="Model whose input gradient is the FCN's hint.")
    ] = _default("hint_model"),
    channels: Annotated[
        str,
        typer.Option("--channels", help="Encoder–decoder channels per level, comma-separated."),
    ] = ",".join(map(str, _default("channels"))),
    holdout: Annotated[
        int, typer.Option("--holdout", min=0, help="Never train on the first N images (sorted by ImageId).")
    ] = _default("holdout"),
    shift: Annotated[
        int, typer.Option("--shift", min=0, help="Augmentation: largest shift in pixels.")
    ] = _default("shift"),
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every", min=1, help="Write the checkpoint (and a snapshot) every N steps."
        ),
    ] = _default("checkpoint_every"),
    as_json: JsonOption = False,
) -> None:
    """Train the attack FCN (one head per ε 4–16, the hint model's gradient as input) to raise the
    summed cross-entropy of --models on the images after --holdout; checkpoint, and export
    --out/attack-fcn.onnx + attack-fcn.json (use it with `advengine attack fcn --param weights=...`)."""
    values: dict[str, Any] = {
        "data": data,
        "holdout": holdout,
        "hint_model": hint_model,
        "channels": channels,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "shift": shift,
        "checkpoint_every": checkpoint_every,
    }
    if models is not None:
        values["sources"] = models
    settings = fcn_settings(values)
    console = stderr_console()
    with progress_bar(console, label_width=34, disable=as_json) as bar:
        task: list[Any] = []

        def on_step(r: StepReport) -> None:
            if not task:
                task.append(bar.add_task("training", total=r.steps, completed=r.step - 1))
            text = f"loss {r.loss:9.3f} · {r.images_per_s:5.2f} img/s"
            bar.update(task[0], completed=r.step, total=r.steps, description=text)
            # Off a terminal (a log file, a background run) the bar draws nothing: one line per checkpoint.
            if not console.is_terminal and not as_json and r.step % settings.checkpoint_every == 0:
                console.print(f"attack-fcn: step {r.step}/{r.steps} · {text}", highlight=False)

        result = train_attack_fcn(
            settings, out, steps, resume=resume, context=RunContext.from_env(), on_step=on_step
        )
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
        return
    loss = "none" if result.loss is None else f"{result.loss:.3f}"
    typer.echo(
        f"attack-fcn: {result.steps} steps, last loss {loss} (−Σ CE), {result.images_per_s:.2f} images/s "
        f"over {result.seconds:.0f} s → {result.manifest}"
    )
