"""``advengine verify``: check a run dir offline (HMACs with the key, hashes, ε, the signed digest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from advengine.cli._app import app
from advengine.cli._options import JsonOption, stderr_console
from advengine.competition.audit_run import check_run


@app.command("verify")
def verify_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of `advengine eval`.")],
    key_dir: Annotated[
        Path | None,
        typer.Option(
            "--key-dir",
            help="Where the run's HMAC key is [default: $ADVENGINE_CONFIG/keys]; without it the "
            "HMACs are not checked (a reader of a published run has no key).",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="The organiser's Ed25519 public key (64 hex digits) that signature.json must carry.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a finished run without running anything: every record's HMAC (with the run's key), the
    stored images against their hashes and ε-balls (with the dataset), the labels against theirs, and
    the Ed25519-signed digest. Exits 1 when anything fails. See docs/records.md."""
    err = stderr_console()
    with err.status(f"verifying {run_dir}"):
        check = check_run(run_dir, key_dir=key_dir, public_key=public_key)
    if as_json:
        typer.echo(json.dumps(check.to_json(), indent=2))
    else:
        state = "finished" if check.finished else "not finished"
        typer.echo(
            f"{run_dir}: {state} run, {check.records} records, {check.images} stored images, "
            f"checked in {check.seconds:.1f} s"
        )
        typer.echo(f"  HMAC: {'checked' if check.hmac_checked else 'not checked'}")
        typer.echo(f"  ε-balls: {'checked' if check.eps_checked else 'not checked'}")
        typer.echo(f"  signature: {check.signature}")
        for line in check.unchecked:
            typer.echo(f"  note: {line}")
        for line in check.problems:
            typer.echo(f"  FAILED {line}")
        typer.echo("verified: no problems" if check.ok else f"{len(check.problems)} problems")
    if not check.ok:
        raise typer.Exit(1)
