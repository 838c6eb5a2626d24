"""``advengine eval``: the whole competition (every attack × every defense) in one command."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from advengine.cli._app import app
from advengine.cli.submissions import SandboxOption, UnsafeOption, sandbox_choice
from advengine.competition import ProcessExecutor, load_config, run_competition
from advengine.competition.executor import Executor, InProcessExecutor
from advengine.competition.plugins import env_plugins
from advengine.errors import ConfigError
from advengine.submissions.roster import add_submissions, check_sandboxes


class _RichListener:
    """Prints what the engine is doing and draws one progress bar per stage."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console = console
        self.progress = progress
        self.task: TaskID | None = None
        self.failed = 0

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def stage(self, name: str, total: int, done: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total, completed=done)

    def piece(self, piece_id: str, status: str, seconds: float) -> None:
        if status != "ok":
            self.failed += 1
            self.console.print(f"{piece_id}: {status} after {seconds:.1f} s", markup=False, highlight=False)
        if self.task is not None:
            self.progress.update(self.task, advance=1, description=piece_id.rsplit("/", 1)[0])


def _clean_json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def _summary(results: dict[str, Any]) -> list[str]:
    def fmt(v: Any) -> str:
        return "–" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    lines = []
    for title, items in (
        ("defenses", results["defenses"]),
        ("attacks", [a for a in results["attacks"] if a["track"] == "nontargeted"]),
        ("targeted attacks", [a for a in results["attacks"] if a["track"] == "targeted"]),
    ):
        if not items:
            continue
        lines.append(f"{title} ({results['mode']} scores):")
        for it in sorted(items, key=lambda x: (x["score"] is None, -(x["score"] or 0), x["name"])):
            flag = "  [excluded]" if it["excluded"] else ""
            lines.append(f"  {it['name']:<28} score {fmt(it['score'])}  worst {fmt(it['worst_score'])}{flag}")
    return lines


@app.command("eval")
def eval_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Competition TOML \\[default: the embedded sample competition]."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset dir (images/ + dev_dataset.csv).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N images.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Images per batch.")] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", min=0.001, help="Seconds per piece before it is killed.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Run directory (results, images, piece records).")
    ] = Path("advengine-eval"),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out, redoing only unfinished pieces.")
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Resume the run in --out and also redo the pieces that crashed or timed out.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results object (results.json) on stdout.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Worker processes running pieces in parallel; 0 runs in this process (no time limit).",
        ),
    ] = 1,
    submission: Annotated[
        list[Path] | None,
        typer.Option(
            "--submission", help="An original NIPS17 submission (dir/.zip/.tar/.tar.gz); repeatable."
        ),
    ] = None,
    no_builtins: Annotated[
        bool, typer.Option("--no-builtins", help="Leave out the built-in roster: run the submissions alone.")
    ] = False,
    sandbox: SandboxOption = "auto",
    unsafe: UnsafeOption = False,
) -> None:
    """Run a whole competition: every attack on every batch, every defense on every adversarial batch
    and on the clean images, then score it (NIPS 2017 Algorithm 1).

    Flags override the config. Writes results.json, records.csv, leaderboard.md, the original
    toolkit's CSVs and the adversarial PNGs to --out. A killed run continues with --resume.
    """
    cfg = load_config(config)
    cfg = cfg.overridden(
        dataset_dir=data.resolve() if data is not None else None,
        limit=limit,
        batch_size=batch_size,
        time_limit=time_limit,
    )
    cfg = add_submissions(
        cfg,
        submission or [],
        builtins=not no_builtins,
        sandbox=sandbox_choice(sandbox, unsafe) if sandbox != "auto" or unsafe else None,
    )
    check_sandboxes(cfg)  # no sandbox and no --unsafe-no-sandbox: one line, before any piece runs
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory")
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    plugins = tuple(dict.fromkeys((*env_plugins(), *cfg.plugins)))
    executor: Executor
    if workers == 0:
        # Workers get the providers through their environment; in-process pieces read this one.
        os.environ["ADVENGINE_PROVIDERS"] = ",".join(cfg.providers)
        executor = InProcessExecutor()
    else:
        executor = ProcessExecutor(
            workers,
            time_limit=cfg.time_limit,
            plugins=plugins,
            env={"ADVENGINE_PROVIDERS": ",".join(cfg.providers)},
        )
    progress = Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    listener = _RichListener(err, progress)
    with progress:
        results = run_competition(
            cfg, out, resume=resume, retry_failed=retry_failed, executor=executor, listener=listener
        )
    from advengine.reporting import write_report_or_warn  # loads matplotlib: only when drawing

    write_report_or_warn(out, lambda line: err.print(line, markup=False))
    if as_json:
        typer.echo(json.dumps(_clean_json(results), indent=2))
        return
    for line in _summary(results):
        typer.echo(line)
    if results["exclusions"]:
        typer.echo(f"{len(results['exclusions'])} exclusions (see {out / 'leaderboard.md'})")
    typer.echo(f"results: {out / 'results.json'}")
