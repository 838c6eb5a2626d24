"""Options and widgets shared by every command group, declared once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
#: ``--batch``, the old spelling of ``--batch-size`` in ``graph`` and ``train``: hidden, still accepted.
OldBatchOption = Annotated[int | None, typer.Option("--batch", min=1, hidden=True)]


def batch_size_of(batch_size: int, old: int | None) -> int:
    """``--batch-size``, or the deprecated ``--batch`` when that was given (with a note on stderr)."""
    if old is None:
        return batch_size
    stderr_console().print("note: --batch is now --batch-size (one name in every command)")
    return old


def stderr_console() -> Console:
    """Where messages and progress go, so stdout holds only the result (and --json stays parseable)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def progress_bar(console: Console, *, label_width: int = 0, disable: bool = False) -> Progress:
    """The one progress bar of every long operation: description (padded to ``label_width``), bar,
    done/total, time elapsed, time left. Transient: it disappears when the work is done."""
    label = f"{{task.description:<{label_width}}}" if label_width else "{task.description}"
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable,
    )


@contextmanager
def progress_callback(description: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (none with ``quiet``) fed by an API progress callback
    ``(done, total)``."""
    bar = progress_bar(stderr_console(), label_width=24, disable=quiet)
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
