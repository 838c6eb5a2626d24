"""Shared flags and helpers of ``advengine attack`` and ``advengine defend``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from advengine.api import Progress as ProgressFn
from advengine.errors import ConfigError


def parse_pairs(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` flags → an untyped dict (the Params dataclass types and checks the values)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r} is not key=value; e.g. --param iterations=5")
        out[key.strip()] = value.strip()
    return out


def parse_models(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    models = tuple(m.strip() for m in raw.split(",") if m.strip())
    if not models:
        raise ConfigError("--models is empty; give comma-separated model names, e.g. efficientnet-lite0")
    return models


@contextmanager
def progress_bar(description: str, quiet: bool) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr (none with ``quiet``), fed by the API's progress callback."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    bar = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
