"""``advengine defend NAME``: label a dataset dir with one defense, NIPS 2017 CSV output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.api import run_defense
from advengine.cli import _pieces as piece
from advengine.cli._app import app


@app.command("defend")
def defend_command(
    name: Annotated[str, typer.Argument(help="Defense name (see `advengine list`).")],
    data: Annotated[Path, typer.Option("--data", help="Dataset dir (images/ + CSV) or a dir of PNGs.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV: <ImageId>.png,<label> per line.")],
    models: Annotated[
        str | None, piece.models_option("Comma-separated classifiers [default: the defense's].")
    ] = None,
    seed: Annotated[int, piece.seed_option("Random seed (randomised defenses).")] = 0,
    param: Annotated[list[str] | None, piece.param_option("Defense")] = None,
    batch_size: piece.BatchSizeOption = 25,
    limit: Annotated[int | None, piece.limit_option("Classify")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {ImageId: label} as JSON on stdout.")
    ] = False,
) -> None:
    """Classify every image and write the NIPS 2017 CSV (TF-Slim labels 1..1000), atomically."""
    labels = piece.with_progress(
        name,
        as_json,
        lambda progress, log: run_defense(
            name,
            data,
            out,
            progress=progress,
            log=log,
            **piece.common_args(models, param, seed, batch_size, limit),
        ),
    )
    if as_json:
        typer.echo(json.dumps(labels, indent=2))
    else:
        typer.echo(f"{name}: labelled {len(labels)} images → {out}")
