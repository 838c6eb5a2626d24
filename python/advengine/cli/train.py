"""``advengine train hgd``: train the HGD denoiser (DUNET, LGD loss) on ONNX Runtime (docs/hgd.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from advengine.cli._app import app, sub_app
from advengine.cli._errors import Interrupted
from advengine.cli._options import JsonOption, OldBatchOption, batch_size_of, progress_bar, stderr_console
from advengine.context import RunContext
from advengine.errors import AdvEngineError
from advengine.training import StepReport, TrainSettings, train_hgd, train_settings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.trainer import CHECKPOINT


def _default(field: str) -> Any:
    """The settings model's default, so the CLI and the Python API cannot drift apart."""
    return TrainSettings.model_fields[field].default


train_app = sub_app("Train learned defenses on ONNX Runtime (no deep-learning framework).")
app.add_typer(train_app, name="train")


def _kept(out: Path) -> str:
    """What an interrupted training run keeps: its last checkpoint (and the cached training set)."""
    path = out / CHECKPOINT
    if not path.is_file():
        return f"no checkpoint yet in {out} (the training images made so far are cached)"
    try:
        return f"the checkpoint at step {load_checkpoint(path).step} kept in {path}"
    except AdvEngineError:
        return f"a checkpoint that cannot be read in {path}"


@train_app.command("hgd")
def hgd_command(
    data: Annotated[
        Path,
        typer.Option("--data", help="Dataset dir (images/ + CSV) whose images are attacked for training."),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Run dir: training set cache, checkpoint, exported denoiser.")
    ],
    target: Annotated[
        str, typer.Option("--target", help="Guide model: the denoised image must give its clean logits.")
    ] = "efficientnet-lite2",
    steps: Annotated[
        int,
        typer.Option("--steps", min=0, help="Train up to this many steps (0: only make the training set)."),
    ] = 2000,
    batch: Annotated[int, typer.Option("--batch-size", min=1, help="Images per step.")] = _default("batch"),
    old_batch: OldBatchOption = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the training set, init and batches.")
    ] = _default("seed"),
    lr: Annotated[float, typer.Option("--lr", help="Adam step size.")] = _default("lr"),
    channels: Annotated[
        str,
        typer.Option("--channels", help="DUNET channels per level, comma-separated (levels = their number)."),
    ] = ",".join(map(str, _default("channels"))),
    holdout: Annotated[
        int, typer.Option("--holdout", min=0, help="Never train on the first N images (sorted by ImageId).")
    ] = _default("holdout"),
    draws: Annotated[
        int, typer.Option("--draws", min=1, help="Adversarial copies per training image.")
    ] = _default("draws"),
    attacks: Annotated[
        str | None,
        typer.Option("--attacks", help="Training attacks, comma-separated [default: fgsm,ifgsm,mifgsm]."),
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
    shift: Annotated[
        int, typer.Option("--shift", min=0, help="Augmentation: largest shift in pixels.")
    ] = _default("shift"),
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=1, help="Write the checkpoint every N steps.")
    ] = _default("checkpoint_every"),
    name: Annotated[
        str | None, typer.Option("--name", help="Model name of the exported denoiser [default: TARGET-hgd].")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make the training set (FGSM, I-FGSM, MI-FGSM from lite0, lite1 and lite0+lite1 at ε 4–16 on the
    images after --holdout; cached), train the DUNET so that the guide's logits on the denoised image
    match those on the clean one, checkpoint, and export --out/NAME.onnx + NAME.json."""
    values: dict[str, Any] = {
        "target": target,
        "data": data,
        "holdout": holdout,
        "draws": draws,
        "channels": channels,
        "batch": batch_size_of(batch, old_batch),
        "lr": lr,
        "seed": seed,
        "shift": shift,
        "checkpoint_every": checkpoint_every,
    }
    given = {"attacks": attacks, "sources": sources, "epsilons": epsilons}
    values.update({k: v for k, v in given.items() if v is not None})
    settings = train_settings(values)
    with progress_bar(stderr_console(), label_width=34, disable=as_json) as bar:
        data_task = bar.add_task("attacking the training images", total=None)
        train_task: list[Any] = []

        def on_data(done: int, total: int) -> None:
            bar.update(data_task, completed=done, total=total)

        def on_step(r: StepReport) -> None:
            if not train_task:
                train_task.append(bar.add_task("training", total=r.steps, completed=r.step - 1))
            text = f"loss {r.loss:9.1f} · {r.images_per_s:5.2f} img/s"
            bar.update(train_task[0], completed=r.step, total=r.steps, description=text)

        try:
            result = train_hgd(
                settings,
                out,
                steps,
                resume=resume,
                name=name,
                context=RunContext.from_env(),
                on_data=on_data,
                on_step=on_step,
            )
        except KeyboardInterrupt:
            raise Interrupted(_kept(out)) from None
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
        return
    if result.denoiser is None or result.manifest is None or result.loss is None:
        typer.echo(f"hgd: training set ready in {out / 'data'}; nothing trained yet (--steps {steps})")
        return
    typer.echo(
        f"hgd: {result.steps} steps, last loss {result.loss:.1f}, {result.images_per_s:.2f} images/s over "
        f"{result.seconds:.0f} s → {result.denoiser} ({result.manifest.name})"
    )
