"""``advengine train``: train learned networks on ONNX Runtime. ``train hgd`` (the HGD denoiser, DUNET
with the LGD loss, docs/hgd.md) is here, with the options and the progress every ``train`` command
shares; ``train attack-fcn`` is in :mod:`advengine.cli.train_fcn`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from advengine.cli._app import app, sub_app
from advengine.cli._errors import Interrupted
from advengine.cli._options import JsonOption, OldBatchOption, batch_size_of, progress_bar, stderr_console
from advengine.context import RunContext
from advengine.errors import AdvEngineError
from advengine.training import StepReport, TrainResult, TrainSettings, train_hgd, train_settings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.loop import CHECKPOINT, StepProgress
from advengine.training.settings import RunSettings
from advengine.training.trainset import DataProgress

train_app = sub_app("Train learned defenses on ONNX Runtime (no deep-learning framework).")
app.add_typer(train_app, name="train")


# The settings models' defaults, so the CLI and the Python API cannot drift apart.
RUN_DEFAULTS = {k: f.default for k, f in RunSettings.model_fields.items()}
HGD_DEFAULTS = {k: f.default for k, f in TrainSettings.model_fields.items()}


# The options every `train` command has, under one name and help.
DataOption = Annotated[
    Path, typer.Option("--data", help="Dataset dir (images/ + dev_dataset.csv) of the training images.")
]
BatchSizeOption = Annotated[int, typer.Option("--batch-size", min=1, help="Images per step.")]
LrOption = Annotated[float, typer.Option("--lr", help="Adam step size.")]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")
]
ChannelsOption = Annotated[
    str,
    typer.Option(
        "--channels", help="Encoder–decoder channels per level, comma-separated (levels = their number)."
    ),
]
HoldoutOption = Annotated[
    int, typer.Option("--holdout", min=0, help="Never train on the first N images (sorted by ImageId).")
]
ShiftOption = Annotated[int, typer.Option("--shift", min=0, help="Augmentation: largest shift in pixels.")]
CheckpointEveryOption = Annotated[
    int,
    typer.Option("--checkpoint-every", min=1, help="Write the checkpoint (and a snapshot) every N steps."),
]
SeedOption = Annotated[
    int, typer.Option("--seed", min=0, help="Seed of the training data, init and batches.")
]
CHANNELS = ",".join(map(str, RUN_DEFAULTS["channels"]))

# HGD v2's options (docs/hgd.md): a cheaper guide on crops, for another classifier, from trained weights.
DeployOption = Annotated[
    str | None,
    typer.Option("--deploy", help="Classifier the exported denoiser goes in front of [default: the guide]."),
]
CropOption = Annotated[
    int | None,
    typer.Option("--crop", min=8, help="Train on random crops of this side, the guide run on the crop."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, help="Attack and train on only the first N training images.")
]
InitOption = Annotated[
    Path | None, typer.Option("--init", help="Start from this DUNET (ONNX), not the identity.")
]
InitImagesOption = Annotated[
    int,
    typer.Option("--init-images", min=0, help="Training images the --init weights had seen (the record)."),
]


def _kept(out: Path) -> str:
    """What an interrupted training run keeps: its last checkpoint (and a cached training set)."""
    path = out / CHECKPOINT
    if not path.is_file():
        return f"no checkpoint yet in {out} (any training images made so far are cached)"
    try:
        return f"the checkpoint at step {load_checkpoint(path).step} kept in {path}"
    except AdvEngineError:
        return f"a checkpoint that cannot be read in {path}"


def train_with_progress(
    what: str,
    settings: RunSettings,
    out: Path,
    as_json: bool,
    train: Callable[[DataProgress, StepProgress], TrainResult],
    *,
    data_label: str | None = None,
) -> TrainResult:
    """Run ``train(on_data, on_step)`` under the progress bar (off a terminal, also one line per
    checkpoint); Ctrl-C keeps the last checkpoint and says how to resume."""
    console = stderr_console()
    with progress_bar(console, label_width=34, disable=as_json) as bar:
        data_task = bar.add_task(data_label, total=None) if data_label else None
        task: list[Any] = []

        def on_data(done: int, total: int) -> None:
            if data_task is not None:
                bar.update(data_task, completed=done, total=total)

        def on_step(r: StepReport) -> None:
            if not task:
                task.append(bar.add_task("training", total=r.steps, completed=r.step - 1))
            text = f"loss {r.loss:9.3f} · {r.images_per_s:5.2f} img/s"
            bar.update(task[0], completed=r.step, total=r.steps, description=text)
            # Off a terminal (a log file, a background run) the bar draws little: one line per checkpoint.
            if not console.is_terminal and not as_json and r.step % settings.checkpoint_every == 0:
                console.print(f"{what}: step {r.step}/{r.steps} · {text}", highlight=False)

        try:
            return train(on_data, on_step)
        except KeyboardInterrupt:
            raise Interrupted(_kept(out)) from None


def report(what: str, result: TrainResult, as_json: bool, nothing: str) -> None:
    """The run's summary: JSON, or one line (``nothing`` when no step was taken)."""
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
    elif result.manifest is None or result.loss is None:
        typer.echo(f"{what}: {nothing}")
    else:
        typer.echo(
            f"{what}: {result.steps} steps, last loss {result.loss:.3f}, {result.images_seen} images seen, "
            f"{result.images_per_s:.2f} images/s over {result.seconds:.0f} s → {result.model} "
            f"({result.manifest.name})"
        )


@train_app.command("hgd")
def hgd_command(
    data: DataOption,
    out: Annotated[
        Path,
        typer.Option("--out", help="Run dir: training set cache, checkpoint, snapshots, exported denoiser."),
    ],
    target: Annotated[
        str, typer.Option("--target", help="Guide model: the denoised image must give its clean logits.")
    ] = HGD_DEFAULTS["target"],
    deploy: DeployOption = None,
    crop: CropOption = None,
    limit: LimitOption = None,
    init: InitOption = None,
    init_images: InitImagesOption = 0,
    steps: Annotated[
        int,
        typer.Option("--steps", min=0, help="Train up to this many steps (0: only make the training set)."),
    ] = 2000,
    batch_size: BatchSizeOption = RUN_DEFAULTS["batch_size"],
    old_batch: OldBatchOption = None,
    resume: ResumeOption = False,
    seed: SeedOption = RUN_DEFAULTS["seed"],
    lr: LrOption = HGD_DEFAULTS["lr"],
    channels: ChannelsOption = CHANNELS,
    holdout: HoldoutOption = RUN_DEFAULTS["holdout"],
    draws: Annotated[
        int, typer.Option("--draws", min=1, help="Adversarial copies per training image.")
    ] = HGD_DEFAULTS["draws"],
    attacks: Annotated[
        str | None,
        typer.Option("--attacks", help="Training attacks, comma-separated [default: fgsm,ifgsm,mifgsm,fcn]."),
    ] = None,
    sources: Annotated[
        str | None,
        typer.Option(
            "--sources",
            help="Their source models, comma-separated: each alone and all together "
            "[default: efficientnet-lite0,efficientnet-lite1].",
        ),
    ] = None,
    epsilons: Annotated[
        str | None,
        typer.Option("--epsilons", help="L∞ budgets in pixels, comma-separated [default: 4,8,12,16]."),
    ] = None,
    shift: ShiftOption = RUN_DEFAULTS["shift"],
    checkpoint_every: CheckpointEveryOption = RUN_DEFAULTS["checkpoint_every"],
    name: Annotated[
        str | None, typer.Option("--name", help="Model name of the exported denoiser [default: DEPLOY-hgd].")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make the training set (FGSM, I-FGSM, MI-FGSM from lite0, lite1 and lite0+lite1, and the attack
    FCN, at ε 4–16 on the images after --holdout; cached), train the DUNET so that the guide's logits
    on the denoised image match those on the clean one, checkpoint, and export --out/NAME.onnx +
    NAME.json, a denoiser in front of --deploy."""
    values: dict[str, Any] = {
        "target": target,
        "data": data,
        "holdout": holdout,
        "draws": draws,
        "channels": channels,
        "batch_size": batch_size_of(batch_size, old_batch),
        "lr": lr,
        "seed": seed,
        "shift": shift,
        "checkpoint_every": checkpoint_every,
        "init_images": init_images,
    }
    given = {
        "attacks": attacks,
        "sources": sources,
        "epsilons": epsilons,
        "deploy": deploy,
        "crop": crop,
        "limit": limit,
        "init": None if init is None else str(init.resolve()),
    }
    values.update({k: v for k, v in given.items() if v is not None})
    settings = train_settings(values)

    def train(on_data: DataProgress, on_step: StepProgress) -> TrainResult:
        return train_hgd(
            settings,
            out,
            steps,
            resume=resume,
            name=name,
            context=RunContext.from_env(),
            on_data=on_data,
            on_step=on_step,
        )

    result = train_with_progress(
        "hgd", settings, out, as_json, train, data_label="attacking the training images"
    )
    report(
        "hgd", result, as_json, f"training set ready in {out / 'data'}; nothing trained yet (--steps {steps})"
    )
