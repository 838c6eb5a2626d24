"""``advengine audit DEFENSE``: adaptive attacks against one defense, robust accuracy and
gradient-masking flags (Markdown, or JSON with --json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from advengine.cli import _pieces as piece
from advengine.cli._app import app
from advengine.cli._options import JsonOption, progress_callback
from advengine.competition.audit import run_audit
from advengine.context import RunContext
from advengine.defenses import DEFENSES
from advengine.files import atomic_write


@app.command("audit")
def audit_command(
    defense: Annotated[str, typer.Argument(help="Defense name (see `advengine list`).")],
    data: Annotated[
        Path, typer.Option("--data", help="Dataset dir with labels (images/ + dev_dataset.csv).")
    ],
    models: Annotated[
        str | None,
        piece.models_option("Comma-separated classifiers of the defense [default: the defense's]."),
    ] = None,
    param: Annotated[list[str] | None, piece.param_option("Defense")] = None,
    eps: Annotated[int, typer.Option("--eps", min=1, max=255, help="L∞ budget in pixels (1..255).")] = 16,
    limit: Annotated[int | None, piece.limit_option("Audit")] = None,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="Iterations of the PGD/EOT-PGD/APGD attacks.")
    ] = 20,
    draws: Annotated[
        int, typer.Option("--draws", min=1, help="EOT draws per step (randomised defenses).")
    ] = 4,
    queries: Annotated[int, typer.Option("--queries", min=1, help="Square's query budget per image.")] = 1000,
    seed: Annotated[int, piece.seed_option("Random seed.")] = 0,
    batch_size: piece.BatchSizeOption = 25,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the Markdown report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Transfer, white-box and adaptive (BPDA/EOT, APGD, Square) attacks on DEFENSE; accuracy per
    attack, per-image robust accuracy, and flags of gradient masking."""
    DEFENSES.get(defense)  # an unknown name fails as one line before any progress bar is drawn
    with progress_callback(f"audit {defense}", quiet=as_json) as update:
        report = run_audit(
            defense,
            data,
            models=piece.parse_models(models),
            params=piece.parse_pairs(param),
            eps=eps,
            limit=limit,
            iterations=iterations,
            draws=draws,
            queries=queries,
            seed=seed,
            batch_size=batch_size,
            context=RunContext.from_env(),
            progress=update,
        )
    text = report.markdown()
    if out is not None:
        atomic_write(out, text.encode())
    typer.echo(report.model_dump_json(indent=2) if as_json else text)
