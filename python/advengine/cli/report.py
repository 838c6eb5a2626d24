"""``advengine report``: make a run's report.html again, from a finished or partial run dir."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from advengine.cli._app import app
from advengine.cli._options import JsonOption


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of `advengine eval` (finished or not).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the page [default: RUN_DIR/report.html].")
    ] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the HTML report of a run: leaderboards, figures, gallery, timings, failures, metadata.

    One self-contained file (no network needed); a partial run shows its missing pieces as missing.
    """
    from advengine.reporting import write_report  # loads matplotlib: only when drawing

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    with err.status(f"drawing the report of {run_dir}"):
        report = write_report(run_dir, out)
    if open_it:
        webbrowser.open(report.path.resolve().as_uri())
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    state = "finished run" if report.finished else f"partial run, {report.missing_pieces} pieces missing"
    typer.echo(f"wrote {report.path} ({report.bytes / 1e6:.2f} MB, {state}, {len(report.figures)} figures)")
