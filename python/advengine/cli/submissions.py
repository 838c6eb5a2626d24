"""``advengine submissions``: check original NIPS 2017 submissions before a competition runs them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import psutil
import typer

from advengine.cli._app import app, sub_app
from advengine.cli._options import stderr_console
from advengine.competition.config import MAX_TIME_LIMIT
from advengine.errors import ConfigError, SandboxError
from advengine.submissions.runner import Settings
from advengine.submissions.sandbox import Limits, resolve_sandbox
from advengine.submissions.validate import validate_submission

submissions_app = sub_app(
    "Check original NIPS 2017 submissions (dir, .zip, .tar, .tar.gz with metadata.json)."
)
app.add_typer(submissions_app, name="submissions")

SandboxOption = Annotated[
    str,
    typer.Option("--sandbox", help="auto (Docker if an engine answers, else bubblewrap), bwrap or docker."),
]
UnsafeOption = Annotated[
    bool,
    typer.Option(
        "--unsafe-no-sandbox", help="Run submissions unconfined when no sandbox can be made (dangerous)."
    ),
]


def sandbox_choice(sandbox: str, unsafe: bool) -> str:
    """The sandbox setting for --sandbox/--unsafe-no-sandbox (shared with ``advengine eval``)."""
    if sandbox not in ("auto", "bwrap", "docker"):
        raise ConfigError(f"--sandbox must be auto, bwrap or docker, got {sandbox!r}")
    if unsafe:  # a fallback, not a switch: a sandbox that can be made is still used
        try:
            resolve_sandbox(sandbox)
        except SandboxError:
            return "unsafe-none"
    return sandbox


@submissions_app.command("validate")
def validate_command(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="Submission dir or .zip/.tar/.tar.gz archive.")
    ],
    images: Annotated[
        int, typer.Option("--images", min=1, max=1000, help="Noise images of the dry run.")
    ] = 8,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds the dry run may take before it is killed.")
    ] = 500.0,
    memory_mb: Annotated[int, typer.Option("--memory-mb", min=16, help="Address-space limit (MiB).")] = 8192,
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Process limit of the run.")] = 256,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the noise images, ε and targets.")] = 0,
    sandbox: SandboxOption = "auto",
    unsafe: UnsafeOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Run the original validator's checks on PATH, then a dry run on noise images in the sandbox.

    Exits 1 when the submission is invalid (errors); warnings keep it valid, as in the original tool.
    """
    if not math.isfinite(time_limit) or time_limit > MAX_TIME_LIMIT:
        raise ConfigError(
            f"--time-limit must be at most {MAX_TIME_LIMIT:g} seconds (one day), got {time_limit:g}"
        )
    total_mb = psutil.virtual_memory().total >> 20
    if memory_mb > total_mb:
        raise ConfigError(f"--memory-mb {memory_mb} is more than this machine has ({total_mb} MiB); lower it")
    choice = sandbox_choice(sandbox, unsafe)
    kind = resolve_sandbox(choice)  # fail early, with one line, when no sandbox can be made
    err = stderr_console()
    err.print(f"validating {path} (dry run on {images} noise images, sandbox {kind})", markup=False)
    settings = Settings(
        choice, Limits(memory_bytes=memory_mb << 20, nproc=nproc), time_limit, min(10.0, time_limit / 10)
    )
    report = validate_submission(path, settings, images=images, seed=seed)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for w in report.warnings:
            typer.echo(f"warning: {w}")
        for e in report.errors:
            typer.echo(f"error: {e}")
        if report.dry_run is not None:
            d = report.dry_run
            typer.echo(
                f"dry run: {d['status']} (exit {d['exit_code']}) in {d['seconds']:.1f} s, "
                f"sandbox {d['sandbox']}"
            )
        typer.echo(f"{report.name or path}: {'VALID' if report.valid else 'INVALID'}")
    if not report.valid:
        raise typer.Exit(1)
