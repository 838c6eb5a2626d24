"""``advengine audit DEFENSE``: adaptive attacks against one defense, robust accuracy and
gradient-masking flags (Markdown, or JSON with --json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from advengine.cli import _pieces as piece
from advengine.cli._app import app
from advengine.cli._options import JsonOption, progress_callback, stderr_console
from advengine.competition.audit import DEFAULT_BATCH_SIZE, run_audit
from advengine.competition.audit import budget as run_budget
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
    budget: Annotated[
        str,
        typer.Option(
            "--budget",
            help="How hard to attack: fast (10 iterations, 2 draws, Square at 100 queries: a first look, "
            "and the result says so), standard (20, 4, 1000), full (100, 8, 5000).",
        ),
    ] = "standard",
    iterations: Annotated[
        int | None,
        typer.Option(
            "--iterations", min=1, help="Iterations of the PGD/EOT-PGD/APGD attacks [default: the budget's]."
        ),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(
            "--draws", min=1, help="EOT draws per step (randomised defenses) [default: the budget's]."
        ),
    ] = None,
    queries: Annotated[
        int | None,
        typer.Option("--queries", min=1, help="Square's queries per image [default: the budget's]."),
    ] = None,
    seed: Annotated[int, piece.seed_option("Random seed.")] = 0,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            help="Images per batch: memory grows with it, not with --limit (at 4 the efficientnet-lite2 "
            "audit of random-resize-pad peaked at 1 GiB, docs/benchmarks.md).",
        ),
    ] = DEFAULT_BATCH_SIZE,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the Markdown report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Transfer, white-box and adaptive (BPDA/EOT, APGD, Square) attacks on DEFENSE; accuracy per
    attack, per-image robust accuracy, and flags of gradient masking."""
    DEFENSES.get(defense)  # an unknown name fails as one line before any progress bar is drawn
    run_budget(budget)  # an unknown --budget too
    err = stderr_console()
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
            budget_name=budget,
            seed=seed,
            batch_size=batch_size,
            context=RunContext.from_env(),
            progress=update,
            log=None if as_json else lambda line: err.print(line, markup=False),
        )
    if not as_json:
        for warning in report.warnings:
            err.print(f"warning: {warning}", markup=False)
    text = report.markdown()
    if out is not None:
        atomic_write(out, text.encode())
    typer.echo(report.model_dump_json(indent=2) if as_json else text)
