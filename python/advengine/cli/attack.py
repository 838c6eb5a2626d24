"""``advengine attack NAME``: run one attack over a dataset dir, NIPS 2017 style."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.api import run_attack
from advengine.cli import _pieces as piece
from advengine.cli._app import app
from advengine.cli._errors import Interrupted


@app.command("attack")
def attack_command(
    name: Annotated[str, typer.Argument(help="Attack name (see `advengine list`).")],
    data: Annotated[Path, typer.Option("--data", help="Dataset dir (images/ + CSV) or a dir of PNGs.")],
    out: Annotated[Path, typer.Option("--out", help="Output dir for the adversarial PNGs (same names).")],
    eps: Annotated[
        int,
        typer.Option(
            "--eps", min=1, max=255, help="L∞ budget in pixels (1..255; 0 is refused, docs/attacks.md)."
        ),
    ],
    models: Annotated[
        str | None, piece.models_option("Comma-separated source models [default: the attack's roster].")
    ] = None,
    seed: Annotated[int, piece.seed_option("Random seed.")] = 0,
    param: Annotated[list[str] | None, piece.param_option("Attack")] = None,
    batch_size: piece.BatchSizeOption = 25,
    limit: Annotated[int | None, piece.limit_option("Attack")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Write an adversarial copy of every image within --eps (L∞). Targeted attacks read
    target_class.csv in --data or TargetClass from the dataset CSV. Images already in --out are
    skipped, so an interrupted run continues where it stopped."""
    try:
        result = piece.with_progress(
            name,
            as_json,
            lambda progress, log: run_attack(
                name,
                data,
                out,
                eps=eps,
                progress=progress,
                log=log,
                **piece.common_args(models, param, seed, batch_size, limit),
            ),
        )
    except KeyboardInterrupt:
        kept = len(list(out.glob("*.png"))) if out.is_dir() else 0
        # The images written are kept and skipped next time: the same command continues.
        raise Interrupted(f"{kept} images kept in {out}", flag=None) from None
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
    else:
        typer.echo(f"{name}: wrote {len(result.written)} images, skipped {len(result.skipped)} → {out}")
