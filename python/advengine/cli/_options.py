"""Options and widgets shared by every command group, declared once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

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


#: Seconds between two progress lines when stderr is no terminal (a log file, CI, a pipe).
LOG_INTERVAL = 10.0


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LineProgress(Progress):
    """The progress bar's face off a terminal, where rich draws nothing: every ``interval`` seconds (from
    a thread, so a long silent step still reports) one plain line per running task on the console:
    stage, done/total, elapsed and ETA."""

    def __init__(self, *columns: Any, interval: float, **options: Any) -> None:
        super().__init__(*columns, **options)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lines(self) -> list[str]:
        """The lines one report prints now."""
        out = []
        for task in self.tasks:
            if not task.visible or task.finished:
                continue
            total = "?" if task.total is None else str(int(task.total))
            out.append(
                f"{' '.join(task.description.split())}: {int(task.completed)}/{total}, "
                f"elapsed {_clock(task.elapsed)}, ETA {_clock(task.time_remaining)}"
            )
        return out

    def _report(self) -> None:
        while not self._stop.wait(self.interval):
            for line in self.lines():
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def start(self) -> None:
        super().start()
        if self.disable or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._report, name="progress-lines", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        super().stop()


def progress_bar(console: Console, *, label_width: int = 0, disable: bool = False) -> Progress:
    """The one progress bar of every long operation: description (padded to ``label_width``), bar,
    done/total, time elapsed, time left. Transient: it disappears when the work is done. When the
    console is no terminal, a line every :data:`LOG_INTERVAL` seconds instead (:class:`LineProgress`)."""
    label = f"{{task.description:<{label_width}}}" if label_width else "{task.description}"
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    if not console.is_terminal:
        return LineProgress(*columns, interval=LOG_INTERVAL, console=console, transient=True, disable=disable)
    return Progress(*columns, console=console, transient=True, disable=disable)


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
