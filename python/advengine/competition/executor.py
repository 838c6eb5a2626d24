"""Executors run work pieces and report one :class:`Outcome` per :class:`Job`.

The engine only talks to the small :class:`Executor` protocol, so a distributed backend can replace
the local ones. Two are provided:

- :class:`InProcessExecutor` runs pieces one by one in this process (fast tests). Nothing can be
  killed there, so it refuses a finite time limit.
- :class:`ProcessExecutor` runs pieces in ``workers`` spawned processes. A piece over the time limit
  gets SIGTERM, then SIGKILL after ``grace`` seconds, and its worker is replaced. Workers stay warm
  between pieces, and a worker that already built a roster entry keeps it (models load once).

The time limit counts from the moment the piece starts work on its batch, as EVALINFRA's 500 s
counted from container start and not the image pull: a worker first builds the entry (loads its
models, once per worker and entry), under its own ``warmup_limit``, and then tells the engine that
the piece starts. ``Outcome.seconds`` is the piece's work alone.

Outcomes are delivered to ``on_done`` in the calling thread, so the engine writes files from one
thread only.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from advengine.competition.artefacts import PieceId, Status
from advengine.competition.pieces import Inputs, built_piece, overrun
from advengine.competition.plugins import import_plugins
from advengine.context import RunContext
from advengine.env import debug_enabled
from advengine.errors import ConfigError
from advengine.processes import exit_with_parent
from advengine.types import Entry


@dataclasses.dataclass(frozen=True)
class Job:
    """One piece to run. ``load`` builds its inputs lazily, just before the piece is dispatched, so
    a long queue does not hold every batch in memory."""

    piece: PieceId
    entry: Entry
    load: Callable[[], Inputs]


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: Status
    value: Any
    seconds: float
    error: str | None = None
    #: Seconds the worker spent building the piece and warming it up before it ran (outside
    #: ``seconds`` and the time limit): keys ``build`` and ``warmup`` (pieces.built_piece).
    setup: dict[str, float] = dataclasses.field(default_factory=dict)


class Executor(Protocol):
    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        """Run every job; call ``on_done`` once per job, in the calling thread, in any order."""
        ...

    def close(self) -> None: ...


def describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class InProcessExecutor:
    """Runs pieces sequentially in this process, their sessions made in ``context``. Exceptions become
    ``crashed`` outcomes. A piece here cannot be stopped, so a finite ``time_limit`` is refused rather
    than silently not enforced."""

    def __init__(self, context: RunContext | None = None, *, time_limit: float = math.inf) -> None:
        if math.isfinite(time_limit):
            raise ConfigError(
                f"a time limit of {time_limit:g} s cannot be enforced in this process (--workers 0); "
                "use --workers 1 or more, or --time-limit inf"
            )
        self.context = context if context is not None else RunContext()

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        for job in jobs:
            start = time.perf_counter()
            setup: dict[str, float] = {}
            try:
                inputs = job.load()
                piece = built_piece(job.entry, self.context, inputs, setup)  # the warm-up, not timed
                start = time.perf_counter()
                value = piece(inputs)
            except Exception as exc:
                on_done(job, Outcome("crashed", None, time.perf_counter() - start, describe(exc), setup))
                continue
            on_done(job, Outcome("ok", value, time.perf_counter() - start, setup=setup))

    def close(self) -> None:
        return None


def _worker_main(conn: Connection, plugins: tuple[str, ...], context: RunContext) -> None:
    """Body of a spawned worker: import plugins, then answer (entry, inputs) requests until EOF, every
    piece's sessions made in ``context``. Per request it builds the entry (if this worker has not),
    sends ``("started", None)``, runs the piece and sends ``(kind, value, seconds)``."""
    # kill -9 of the engine must not leave workers (and their sandboxes) running to the time limit.
    exit_with_parent()
    try:
        import_plugins(plugins)
    except Exception as exc:
        conn.send(("fatal", describe(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            entry, inputs = conn.recv()
        except (EOFError, OSError):
            return  # the engine went away (finished or killed): nothing left to do
        reply = _serve(conn, entry, inputs, context)
        if reply is None:
            return  # the engine went away during the warm-up
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return  # the engine went away mid-piece


def _serve(
    conn: Connection, entry: Entry, inputs: Inputs, context: RunContext
) -> tuple[str, Any, float] | None:
    """Build (the warm-up), say "started" with the seconds that took, run one piece: its reply, or
    None if the engine is gone."""
    setup: dict[str, float] = {}
    try:
        piece = built_piece(entry, context, inputs, setup)
    except Exception as exc:
        if debug_enabled():
            traceback.print_exc()
        return ("error", describe(exc), 0.0)
    try:
        conn.send(("started", setup))
    except (OSError, ValueError):
        return None
    start = time.perf_counter()
    try:
        return ("ok", piece(inputs), time.perf_counter() - start)
    except Exception as exc:
        if debug_enabled():
            traceback.print_exc()
        return ("error", describe(exc), time.perf_counter() - start)


class _Worker:
    """One spawned process and its pipe."""

    def __init__(self, plugins: tuple[str, ...], context: RunContext) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, plugins, context), daemon=True)
        self.proc.start()
        child.close()
        kind, msg = self.conn.recv()
        if kind != "ready":
            self.stop(0.0)
            raise ConfigError(f"a worker process could not start: {msg}")

    def stop(self, grace: float) -> None:
        """SIGTERM, wait ``grace`` seconds, then SIGKILL (as ``docker stop`` did)."""
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(grace)
            if self.proc.is_alive():
                self.proc.kill()
        self.proc.join()
        self.conn.close()


class ProcessExecutor:
    """Runs pieces in ``workers`` spawned processes with a per-piece wall-clock limit."""

    def __init__(
        self,
        workers: int = 1,
        *,
        time_limit: float = 500.0,
        warmup_limit: float = 600.0,
        grace: float = 10.0,
        plugins: tuple[str, ...] = (),
        context: RunContext | None = None,
    ) -> None:
        if not math.isfinite(time_limit):
            # A hung piece must always end in a worker; no limit is for in-process debugging only.
            raise ConfigError("a run in worker processes needs a finite --time-limit; inf needs --workers 0")
        self.workers = max(1, workers)
        self.time_limit = time_limit
        #: Seconds a worker may take to build an entry (load its models) before its first piece.
        self.warmup_limit = warmup_limit
        self.grace = grace
        self.plugins = plugins
        #: The workers' session settings (providers, threads, cache dir, device).
        self.context = context if context is not None else RunContext()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            w = _Worker(self.plugins, self.context)
            with self._lock:
                self._all.append(w)
            return w

    def _retire(self, w: _Worker) -> None:
        w.stop(self.grace)
        with self._lock:
            self._all.remove(w)

    def call(self, job: Job) -> Outcome:
        """Run one job on a worker under the time limit (the Ray executor calls this on each node)."""
        try:
            inputs = job.load()
        except Exception as exc:
            return Outcome("crashed", None, 0.0, f"loading inputs failed: {describe(exc)}")
        w = self._take()
        start = time.perf_counter()
        try:
            w.conn.send((job.entry, inputs))
            if not w.conn.poll(self.warmup_limit):
                self._retire(w)
                return Outcome(
                    "timeout", None, 0.0, f"building the entry took over the {self.warmup_limit:g} s warm-up"
                )
            first = w.conn.recv()
            setup: dict[str, float] = {}
            if first[0] == "started":  # else the build failed: ("error", message, seconds)
                setup = dict(first[1] or {})
                start = time.perf_counter()
                limit = self.time_limit + overrun(job.entry, self.time_limit)
                if not w.conn.poll(limit):
                    self._retire(w)
                    return Outcome(
                        "timeout",
                        None,
                        time.perf_counter() - start,
                        f"over the {self.time_limit:g} s limit",
                    )
                first = w.conn.recv()
            kind, value, seconds = first
        except (EOFError, OSError, BrokenPipeError):
            # The worker died (segfault, os._exit, OOM kill): replace it and score the piece as crashed.
            w.proc.join(self.grace)  # the pipe closes a moment before the exit status is known
            code = w.proc.exitcode
            self._retire(w)
            return Outcome("crashed", None, time.perf_counter() - start, f"worker process died (exit {code})")
        self._idle.put(w)
        if kind == "ok":
            return Outcome("ok", value, seconds, setup=setup)
        return Outcome("crashed", None, seconds, str(value), setup)

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        todo: queue.Queue[Job | None] = queue.Queue()
        done: queue.Queue[tuple[Job, Outcome] | BaseException] = queue.Queue()
        count = 0
        for job in jobs:
            todo.put(job)
            count += 1
        n_threads = min(self.workers, count)
        for _ in range(n_threads):
            todo.put(None)

        def loop() -> None:
            while (job := todo.get()) is not None:
                try:
                    done.put((job, self.call(job)))
                except BaseException as exc:  # e.g. a worker that cannot start: stop the run
                    done.put(exc)
                    return

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(n_threads)]
        for t in threads:
            t.start()
        try:
            for _ in range(count):
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                on_done(*item)
        finally:
            while True:  # drop what is still queued so the threads exit after their current piece
                try:
                    todo.get_nowait()
                except queue.Empty:
                    break
            for _ in threads:
                todo.put(None)

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            w.stop(self.grace)


__all__ = ["Executor", "InProcessExecutor", "Job", "Outcome", "ProcessExecutor", "Status", "describe"]
