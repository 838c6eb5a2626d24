"""``advengine check RUN_DIR``: the competition's rules checked on a finished run (docs/rules.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.cli._app import app
from advengine.cli._options import JsonOption, progress_callback, stderr_console
from advengine.competition.rules import CheckSettings, check_run, save_rules


def _names(raw: str | None) -> list[str] | None:
    names = [n.strip() for n in (raw or "").split(",") if n.strip()]
    return names or None


@app.command("check")
def check_command(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory of `advengine eval`.")],
    entries: Annotated[
        str | None,
        typer.Option("--entries", help="Comma-separated entry names to check [default: every entry]."),
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="Images re-run per entry (and per side of a probe).")
    ] = 100,
    all_pairs: Annotated[
        bool,
        typer.Option(
            "--all-pairs",
            help="Probe every (attack, defense) pair for collusion, not only those of one team.",
        ),
    ] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", min=1e-12, max=0.5, help="The tests' significance level.")
    ] = 1e-3,
    as_json: JsonOption = False,
) -> None:
    """Check a finished run against the competition's rules: stateless entries that act one image at
    a time, no collusion between a team's attack and defense, no hidden channels.

    Re-runs a sample of each entry's images; the findings go into the run's results.json ("rules")
    and its report.html ("Rules"). Prints only what is flagged, and which entries were checked.
    """
    err = stderr_console()
    settings = CheckSettings(sample=sample, alpha=alpha, all_pairs=all_pairs)

    def say(line: str) -> None:
        if not err.is_terminal:  # a log gets one line per step; a terminal gets the bar
            err.print(line)

    with progress_callback(f"check {run_dir.name}", quiet=False) as update:
        report = check_run(run_dir, entries=_names(entries), settings=settings, say=say, step=update)
    save_rules(run_dir, report)
    from advengine.reporting import write_report  # loads matplotlib: only when drawing

    page = write_report(run_dir)
    if as_json:
        body = report.model_dump(include={"findings", "checked"})
        typer.echo(json.dumps(body, indent=2))
        return
    for f in report.findings:
        stat = f"p = {f.p_value:.2g}" if f.p_value is not None else f"effect {f.effect:.2f}"
        typer.echo(f"FLAGGED {f.rule} {f.entry}: {f.evidence} ({stat})")
    rules = sum(len(c.rules) for c in report.checked)
    typer.echo(
        f"{len(report.findings)} findings; {len(report.checked)} entries checked ({rules} rule checks) "
        f"in {report.seconds or 0:.0f} s; written to {run_dir / 'results.json'} and {page.path}"
    )
