"""``advengine defend NAME``: label a dataset dir with one defense, NIPS 2017 CSV output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.api import run_defense
from advengine.cli._app import app
from advengine.cli._pieces import parse_models, parse_pairs, progress_bar


@app.command("defend")
def defend_command(
    name: Annotated[str, typer.Argument(help="Defense name (see `advengine list`).")],
    data: Annotated[Path, typer.Option("--data", help="Dataset dir (images/ + CSV) or a dir of PNGs.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV: <ImageId>.png,<label> per line.")],
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated classifiers [default: the defense's].")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (randomised defenses).")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Defense parameter key=value (repeatable).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")] = 25,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Classify only the first N images.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {ImageId: label} as JSON on stdout.")
    ] = False,
) -> None:
    """Classify every image and write the NIPS 2017 CSV (TF-Slim labels 1..1000), atomically."""
    with progress_bar(name, quiet=as_json) as update:
        labels = run_defense(
            name,
            data,
            out,
            models=parse_models(models),
            params=parse_pairs(param),
            seed=seed,
            batch_size=batch_size,
            limit=limit,
            progress=update,
            log=None if as_json else lambda m: typer.echo(m, err=True),
        )
    if as_json:
        typer.echo(json.dumps(labels, indent=2))
    else:
        typer.echo(f"{name}: labelled {len(labels)} images → {out}")
