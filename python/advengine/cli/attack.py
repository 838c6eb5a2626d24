"""``advengine attack NAME``: run one attack over a dataset dir, NIPS 2017 style."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.api import run_attack
from advengine.cli._app import app
from advengine.cli._pieces import parse_models, parse_pairs, progress_bar


@app.command("attack")
def attack_command(
    name: Annotated[str, typer.Argument(help="Attack name (see `advengine list`).")],
    data: Annotated[Path, typer.Option("--data", help="Dataset dir (images/ + CSV) or a dir of PNGs.")],
    out: Annotated[Path, typer.Option("--out", help="Output dir for the adversarial PNGs (same names).")],
    eps: Annotated[int, typer.Option("--eps", min=0, max=255, help="L∞ budget in pixels (0..255).")],
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated source models [default: the attack's roster]."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Attack parameter key=value (repeatable).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")] = 25,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Attack only the first N images.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Write an adversarial copy of every image within --eps (L∞). Targeted attacks read
    target_class.csv in --data or TargetClass from the dataset CSV. Images already in --out are
    skipped, so an interrupted run continues where it stopped."""
    with progress_bar(name, quiet=as_json) as update:
        result = run_attack(
            name,
            data,
            out,
            eps=eps,
            models=parse_models(models),
            params=parse_pairs(param),
            seed=seed,
            batch_size=batch_size,
            limit=limit,
            progress=update,
            log=None if as_json else lambda m: typer.echo(m, err=True),
        )
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
    else:
        typer.echo(f"{name}: wrote {len(result.written)} images, skipped {len(result.skipped)} → {out}")
