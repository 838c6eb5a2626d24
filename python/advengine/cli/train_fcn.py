"""``advengine train attack-fcn``: train iwiwi's attack FCN on ONNX Runtime (docs/fcn.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from advengine.cli._options import JsonOption
from advengine.cli.train import (
    CHANNELS,
    RUN_DEFAULTS,
    BatchSizeOption,
    ChannelsOption,
    CheckpointEveryOption,
    DataOption,
    HoldoutOption,
    LrOption,
    ResumeOption,
    SeedOption,
    ShiftOption,
    report,
    train_app,
    train_with_progress,
)
from advengine.context import RunContext
from advengine.training import TrainResult, fcn_settings, train_attack_fcn
from advengine.training.fcn_settings import HINT_MODEL
from advengine.training.loop import StepProgress
from advengine.training.trainset import DataProgress


@train_app.command("attack-fcn")
def attack_fcn_command(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Run dir: checkpoint, snapshots, exported FCN.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Train up to this many steps.")] = 500,
    batch_size: BatchSizeOption = RUN_DEFAULTS["batch_size"],
    lr: LrOption = RUN_DEFAULTS["lr"],
    resume: ResumeOption = False,
    seed: SeedOption = RUN_DEFAULTS["seed"],
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
    ] = HINT_MODEL,
    channels: ChannelsOption = CHANNELS,
    holdout: HoldoutOption = RUN_DEFAULTS["holdout"],
    shift: ShiftOption = RUN_DEFAULTS["shift"],
    checkpoint_every: CheckpointEveryOption = RUN_DEFAULTS["checkpoint_every"],
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

    def train(on_data: DataProgress, on_step: StepProgress) -> TrainResult:
        return train_attack_fcn(
            settings, out, steps, resume=resume, context=RunContext.from_env(), on_step=on_step
        )

    result = train_with_progress("attack-fcn", settings, out, as_json, train)
    report("attack-fcn", result, as_json, "nothing trained")
