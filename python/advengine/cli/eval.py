"""``advengine eval``: the whole competition (every attack × every defense) in one command."""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import Progress, TaskID

from advengine import env
from advengine.cli._app import app
from advengine.cli._errors import EXIT_INCOMPLETE, Interrupted
from advengine.cli._options import JsonOption, progress_bar, stderr_console
from advengine.cli.submissions import SandboxOption, UnsafeOption, sandbox_choice
from advengine.competition import CompetitionConfig, ProcessExecutor, load_config, run_competition
from advengine.competition.artefacts import PieceId, Results, Rounds, json_safe
from advengine.competition.engine import VerifyMode
from advengine.competition.executor import Executor, InProcessExecutor
from advengine.competition.report import fmt, groups, ranked
from advengine.competition.rounds import run_rounds
from advengine.competition.state import RunDir
from advengine.context import RunContext, parse_device
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

    def piece(self, piece: PieceId, status: str, seconds: float) -> None:
        if status != "ok":
            self.failed += 1
            self.console.print(f"{piece}: {status} after {seconds:.1f} s", markup=False, highlight=False)
        if self.task is not None:
            self.progress.update(self.task, advance=1, description=piece.stage)


_TITLES = {"defense": "defenses", "nontargeted": "attacks", "targeted": "targeted attacks"}


def _summary(results: Results) -> list[str]:
    lines = []
    for track, items in groups(results):
        if not items:
            continue
        lines.append(f"{_TITLES[track]} ({results.mode} scores):")
        for it in ranked(items):
            flag = "  [excluded]" if it.excluded else ""
            lines.append(f"  {it.name:<28} score {fmt(it.score)}  worst {fmt(it.worst_score)}{flag}")
    return lines


ExecutorName = Literal["local", "ray"]


def _executor(
    name: ExecutorName,
    workers: int,
    ray_address: str | None,
    cfg: CompetitionConfig,
    plugins: tuple[str, ...],
    context: RunContext,
) -> Executor:
    limits = {"time_limit": cfg.time_limit, "warmup_limit": cfg.warmup_limit}
    if name == "ray":
        # Imported only here: Ray is an optional extra and costs a second to import.
        ray_executor = importlib.import_module("advengine.competition.ray_executor")
        executor: Executor = ray_executor.RayExecutor(
            ray_address, num_cpus=max(1, workers), plugins=plugins, context=context, **limits
        )
        return executor
    if workers == 0:
        return InProcessExecutor(context, time_limit=cfg.time_limit)  # refuses a finite limit
    return ProcessExecutor(workers, plugins=plugins, context=context, **limits)


def _print_rounds(rounds: Rounds, as_json: bool, out: Path) -> None:
    """Per round and track: the top entry against the best baseline (or the JSON of rounds.json)."""
    if as_json:
        typer.echo(json.dumps(json_safe(rounds.model_dump(mode="json")), indent=2))
        return
    for r in rounds.rounds:
        typer.echo(f"round {r.name} ({r.images} images, {r.mode} scores):")
        for t in r.tracks:
            top = f"{t.top.name} {fmt(t.top.score)}" if t.top else "–"
            base = f"{t.best_baseline.name} {fmt(t.best_baseline.score)}" if t.best_baseline else "–"
            typer.echo(f"  {_TITLES[t.track]:<17} top {top:<34} best baseline {base}")
    typer.echo(f"results: {out / 'rounds.json'} and each round's results.json")


@app.command("eval")
def eval_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Competition TOML [default: the embedded sample competition]."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset dir (images/ + dev_dataset.csv).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N images.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Images per batch.")] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            min=0.001,
            help="Seconds per piece, from when it starts work on its batch (inf: none).",
        ),
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
    as_json: JsonOption = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Worker processes running pieces in parallel; 0: in this process (needs --time-limit inf). "
            "With --executor ray and no --ray-address: the local Ray instance's CPUs.",
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
    executor_name: Annotated[
        ExecutorName,
        typer.Option(
            "--executor",
            help="Where pieces run: local worker processes, or Ray tasks (pip install 'advengine[ray]').",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --executor ray: join this cluster ('auto' or ray://host:port) "
            "[default: start a local Ray instance with --workers CPUs].",
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="CUDA device of the ONNX Runtime sessions, e.g. cuda:1 (Ray: the GPU it assigns).",
        ),
    ] = None,
    sandbox: SandboxOption = "auto",
    unsafe: UnsafeOption = False,
    verify: Annotated[
        VerifyMode,
        typer.Option(
            "--verify",
            help="A stored piece that fails its checks on --resume (HMAC, hashes, ε): "
            "warn and redo it, or strict: refuse the run.",
        ),
    ] = "warn",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 3 when pieces crashed or timed out (default: exit 0; the summary line says so).",
        ),
    ] = False,
) -> None:
    """Run a whole competition: every attack on every batch, every defense on every adversarial batch
    and on the clean images, then score it (NIPS 2017 Algorithm 1).

    Flags override the config. Writes results.json, records.csv, leaderboard.md, the original
    toolkit's CSVs and the adversarial PNGs to --out; --json prints the results object (results.json)
    on stdout. A killed run continues with --resume.
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
    err = stderr_console()
    plugins = tuple(dict.fromkeys((*env.plugins(), *cfg.plugins)))
    if ray_address is not None and executor_name != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    # The config's providers; threads, cache dir from the environment.
    context = RunContext.from_env(providers=cfg.providers, device=parse_device(device))
    executor = _executor(executor_name, workers, ray_address, cfg, plugins, context)
    progress = progress_bar(err, label_width=40)
    listener = _RichListener(err, progress)
    # One run's settings, for the run or for each of its rounds.
    run = functools.partial(
        run_competition,
        resume=resume,
        retry_failed=retry_failed,
        executor=executor,
        listener=listener,
        verify=verify,
    )
    if cfg.rounds:
        with progress:
            rounds = run_rounds(cfg, out, run, listener.message)
        from advengine.reporting import write_report_or_warn  # loads matplotlib: only when drawing

        for r in rounds.rounds:  # each round is a run of its own, with its own report
            write_report_or_warn(Path(r.out), lambda line: err.print(line, markup=False))
        _print_rounds(rounds, as_json, out)
        return
    try:
        with progress:
            results = run(cfg, out)
    except KeyboardInterrupt:
        kept = RunDir(out).statuses()
        raise Interrupted(f"{sum(kept.values())} pieces kept in {out}") from None
    from advengine.reporting import write_report_or_warn  # loads matplotlib: only when drawing

    write_report_or_warn(out, lambda line: err.print(line, markup=False))
    if as_json:
        typer.echo(json.dumps(json_safe(results.to_json()), indent=2))
    else:
        for line in _summary(results):
            typer.echo(line)
        if results.exclusions:
            typer.echo(f"{len(results.exclusions)} exclusions (see {out / 'leaderboard.md'})")
        typer.echo(f"results: {out / 'results.json'}")
    _failed_pieces(out, strict)


def _failed_pieces(out: Path, strict: bool) -> None:
    """The closing line of a run with crashed or timed-out pieces (on stderr), and exit 3 with --strict.
    The results are written either way: a failed piece is scored as the rules say (docs/competition.md)."""
    counts = RunDir(out).statuses()
    failed = counts["crashed"] + counts["timeout"]
    if not failed:
        return
    stderr_console().print(
        f"{failed} of {sum(counts.values())} pieces failed ({counts['crashed']} crashed, "
        f"{counts['timeout']} timed out; leaderboard.md shows what they cost). Redo them with "
        f"`advengine eval --out {out} --retry-failed` (with the same options)"
        + ("" if strict else "; --strict exits 3 on this"),
        markup=False,
    )
    if strict:
        raise typer.Exit(EXIT_INCOMPLETE)
