"""Runs pieces as Ray tasks, on one machine or on a cluster (``advengine eval --executor ray``).

Each attack or defense piece is one Ray task that reserves its entry's ``num_cpus``/``num_gpus``.
Its inputs travel through the object store and its :class:`Outcome` comes back to the driver, which
alone writes the run dir (resume, hash checks and scoring stay in the engine, and nodes need no shared
filesystem). On the node, the task hands the piece to a warm :class:`ProcessExecutor` worker kept by
the Ray worker process, so the time limit is enforced there the local way: SIGTERM, then SIGKILL, the
worker replaced, the piece scored ``timeout``. A piece that crashes its process is therefore a
``crashed`` outcome, as with the local executors, while a Ray worker or node that dies is a system
failure that Ray retries on another node (``max_retries``); the driver takes one outcome per piece,
so nothing is counted twice.

Ray's failures are advengine errors: while Ray runs, this process's stdout (file descriptor 1, which
Ray's own processes inherit) points at stderr, so nothing Ray prints reaches ``--json`` output; and a
watcher thread follows the raylet of this machine. When it dies, Ray ends the driver a few seconds
later with exit 1 and no word; the watcher interrupts the run first, so the engine stops through
its ``finally`` blocks (no ``.tmp`` file left) and the CLI says what died in one line. The finished
pieces are kept, and ``--resume`` continues.

Submissions are shipped as their archive bytes, put in the object store once per digest and
written once per node under ``<tmp>/advengine-ray/submissions/<digest>/``; their logs stay on the
node (``<tmp>/advengine-ray/logs/<digest>/``).
"""

from __future__ import annotations

import _thread
import dataclasses
import io
import logging
import os
import signal
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from advengine import env
from advengine.competition.artefacts import PieceId
from advengine.competition.executor import Job, Outcome, ProcessExecutor, describe
from advengine.competition.pieces import Inputs
from advengine.context import RunContext
from advengine.errors import ConfigError, ExecutorError
from advengine.files import atomic_write
from advengine.types import Entry, SubmissionEntry

try:
    import ray
    import ray.exceptions
except ImportError:  # the optional extra advengine[ray]
    ray = None  # type: ignore[assignment]

#: One line when Ray is missing.
MISSING = "--executor ray needs Ray: pip install 'advengine[ray]'"


@dataclasses.dataclass(frozen=True)
class NodeSettings:
    """What every task needs besides its piece: the limits, the plugins and the run's context."""

    time_limit: float
    warmup_limit: float
    grace: float
    plugins: tuple[str, ...]
    context: RunContext


@dataclasses.dataclass(frozen=True)
class _Fatal:
    """A node could not run pieces at all (a plugin missing there): the run stops with this line."""

    message: str


# -- on the node ------------------------------------------------------------------------------------

#: Warm piece workers of this Ray worker process, one per (settings, context, visible GPUs).
_WORKERS: dict[tuple[NodeSettings, RunContext, tuple[str, ...]], ProcessExecutor] = {}


def assigned_device(gpu_ids: list[Any], visible: tuple[str, ...], default: int) -> int:
    """The CUDA ordinal of the first GPU Ray assigned to this task. Ray narrows
    ``CUDA_VISIBLE_DEVICES`` to the assigned GPUs, so that is the assigned id's position there;
    without an assignment, the run's ``--device``."""
    if not gpu_ids:
        return default
    first = str(gpu_ids[0])
    return visible.index(first) if first in visible else 0


def _landed(entry: Entry, archive: list[Any]) -> Entry:
    """A submission entry pointing at this node's copy of its archive (written on first use)."""
    if not isinstance(entry, SubmissionEntry):
        return entry
    name, ref = archive
    root = Path(tempfile.gettempdir()) / "advengine-ray"
    dest = root / "submissions" / entry.digest / name
    if not dest.is_file():  # concurrent tasks on the node may each write a whole copy: atomic_write
        atomic_write(dest, ray.get(ref))
    return entry.model_copy(update={"path": str(dest), "log_root": str(root / "logs" / entry.digest)})


def run_on_node(
    piece: PieceId, entry: Entry, inputs: Inputs, archive: list[Any], settings: NodeSettings
) -> Outcome | _Fatal:
    """The body of every Ray task: one piece under the time limit in a warm worker of this node."""
    visible = env.cuda_visible_devices()
    device = assigned_device(ray.get_gpu_ids(), visible, settings.context.device)
    context = dataclasses.replace(settings.context, device=device)
    key = (settings, context, visible)
    workers = _WORKERS.get(key)
    if workers is None:
        workers = _WORKERS[key] = ProcessExecutor(
            1,
            time_limit=settings.time_limit,
            warmup_limit=settings.warmup_limit,
            grace=settings.grace,
            plugins=settings.plugins,
            context=context,
        )
    try:
        landed = _landed(entry, archive)
        return workers.call(Job(piece, landed, lambda: inputs))
    except ConfigError as exc:
        return _Fatal(f"on a Ray node: {exc}")


# -- on the driver ----------------------------------------------------------------------------------


def pack_submission(path: Path) -> tuple[str, bytes]:
    """A submission as one file: an archive as it is, a directory as a .tar.gz of its contents."""
    if path.is_file():
        return path.name, path.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for item in sorted(path.rglob("*")):
            tf.add(item, arcname=str(item.relative_to(path)), recursive=False)
    return f"{path.name}.tar.gz", buf.getvalue()


def local_runtime_env() -> dict[str, Any]:
    """Local Ray workers import plugins and the package from this process's sys.path, as spawned
    workers do (a cluster's nodes need advengine and the plugins installed instead)."""
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Start a local Ray instance (``address`` None) or join a cluster (``auto``, ``ray://host:port``);
    True when this call did it (and the executor shuts it down again)."""
    if ray is None:
        raise ConfigError(MISSING)
    if ray.is_initialized():
        return False
    quiet = not env.debug_enabled()
    level = logging.ERROR if quiet else logging.INFO
    try:
        if address is None:
            # "local": a new instance even when a cluster runs on this machine (ray.init() would join it).
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=not quiet,
                logging_level=level,
                runtime_env=local_runtime_env(),
            )
        else:
            ray.init(
                address=address,
                log_to_driver=not quiet,
                logging_level=level,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"--ray-address {address}" if address else "a local Ray instance"
        raise ConfigError(
            f"{where}: cannot start or join Ray ({describe(exc)}); start a cluster with "
            "`ray start --head`, or leave --ray-address out for a local instance"
        ) from None
    return True


def _logs_dir() -> str | None:
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    try:
        return str(node.get_logs_dir_path()) if node is not None else None
    except (AttributeError, OSError):
        return None


def local_raylet() -> psutil.Process | None:
    """The raylet this driver talks to (the one of this machine), or None when it cannot be found."""
    node = getattr(getattr(ray, "_private", None), "worker", None)
    node = getattr(node, "_global_node", None)
    socket = getattr(node, "raylet_socket_name", None)
    if not socket:
        return None
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "raylet" and f"--raylet_socket_name={socket}" in (proc.info["cmdline"] or []):
            return proc
    return None


class _StdoutToStderr:
    """File descriptor 1 pointed at stderr while Ray runs (its processes inherit it), then restored."""

    def __init__(self) -> None:
        self.saved: int | None = None

    def redirect(self) -> None:
        if self.saved is None:
            sys.stdout.flush()
            self.saved = os.dup(1)
            os.dup2(2, 1)

    def silence(self) -> None:
        """Point fd 1 at /dev/null: after a failure Ray's threads print what died there (the same
        text is in Ray's log dir), so the error line stays the last line of the run."""
        sys.stdout.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)

    def restore(self) -> None:
        if self.saved is not None:
            sys.stdout.flush()
            os.dup2(self.saved, 1)
            os.close(self.saved)
            self.saved = None


class _RayletWatch:
    """Interrupts the main thread with :class:`ExecutorError` when the local raylet dies."""

    def __init__(self, raylet: psutil.Process, logs: str | None, period: float = 0.2) -> None:
        self.raylet, self.logs, self.period = raylet, logs, period
        self.died: str | None = None
        self._stop = threading.Event()
        self._old: Any = None
        self._thread = threading.Thread(target=self._watch, name="advengine-raylet-watch", daemon=True)

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        if self.died is not None:
            raise ExecutorError(self.died)

    def start(self) -> None:
        self._old = signal.signal(signal.SIGUSR1, self._raise)  # the main thread's, set from it
        self._thread.start()

    def dead(self) -> bool:
        """Whether the raylet is gone (then :attr:`died` says so in one line)."""
        if self.died is None:
            try:
                alive = self.raylet.is_running() and self.raylet.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                self.died = (
                    f"Ray's raylet on this machine (pid {self.raylet.pid}) died, so this eval cannot go on; "
                    "the finished pieces are kept: rerun with --resume"
                    + (f" (Ray's logs: {self.logs})" if self.logs else "")
                )
        return self.died is not None

    def _watch(self) -> None:
        while not self._stop.wait(self.period):
            if self.dead():
                _thread.interrupt_main(signal.SIGUSR1)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._old is not None:
            signal.signal(signal.SIGUSR1, self._old)
            self._old = None


class RayExecutor:
    """Runs each piece as a Ray task with its entry's resources; outcomes come back to the caller."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        time_limit: float = 500.0,
        warmup_limit: float = 600.0,
        grace: float = 10.0,
        plugins: tuple[str, ...] = (),
        context: RunContext | None = None,
        max_retries: int = 3,
    ) -> None:
        # Before Ray starts: the processes ray.init starts (raylet, GCS, log monitor) inherit fd 1.
        self._stdout = _StdoutToStderr()
        self._stdout.redirect()
        try:
            self.started = connect(address, num_cpus)
        except BaseException:
            self._stdout.restore()
            raise
        context = context or RunContext()
        if address is not None:
            # Nodes of a cluster are other machines: each keeps models in its own cache dir
            # (ADVENGINE_CACHE there, else ~/.cache/advengine), not at the driver's path.
            context = dataclasses.replace(context, cache_dir=None)
        self.settings = NodeSettings(time_limit, warmup_limit, grace, plugins, context)
        #: Ray retries a task whose worker or node died this often (piece exceptions are outcomes).
        self.max_retries = max_retries
        self._task = ray.remote(run_on_node)
        self._archives: dict[str, list[Any]] = {}
        self._watch: _RayletWatch | None = None
        #: Ray failed under the run: its threads keep printing what died, so stdout stays on stderr.
        self.failed = False

    def _archive(self, entry: Entry) -> list[Any]:
        # Wrapped in a list so Ray does not fetch it for every task: a node fetches it once, when its
        # copy is missing.
        if not isinstance(entry, SubmissionEntry):
            return []
        if entry.digest not in self._archives:
            name, data = pack_submission(Path(entry.path))
            self._archives[entry.digest] = [name, ray.put(data)]
        return self._archives[entry.digest]

    def _check(self, entry: Entry, total: dict[str, float]) -> None:
        for key, want in (("CPU", entry.num_cpus), ("GPU", entry.num_gpus)):
            if want > total.get(key, 0.0):
                field = f"num_{key.lower()}s"
                raise ConfigError(
                    f"{entry.label}: {field} = {want:g} but the Ray cluster has {total.get(key, 0.0):g} "
                    f"{key}s; lower {field} or add nodes"
                )

    def _submit(self, job: Job, inputs: Inputs) -> Any:
        entry = job.entry
        return self._task.options(
            num_cpus=entry.num_cpus,
            num_gpus=entry.num_gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
            name=str(job.piece),
        ).remote(job.piece, entry, ray.put(inputs), self._archive(entry), self.settings)

    def _outcome(self, ref: Any) -> Outcome:
        try:
            value = ray.get(ref)
        except ray.exceptions.RayError as exc:  # retries exhausted: the worker or node kept dying
            if self._watch is not None and self._watch.dead():
                # Not the piece's failure: this machine's raylet took its worker with it.
                raise ExecutorError(self._watch.died or "") from None
            return Outcome("crashed", None, 0.0, f"Ray task failed: {describe(exc)}")
        if isinstance(value, _Fatal):
            raise ConfigError(value.message)
        assert isinstance(value, Outcome)
        return value

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        self._stdout.redirect()
        raylet = local_raylet()
        watch = self._watch = _RayletWatch(raylet, _logs_dir()) if raylet is not None else None
        if watch is not None and threading.current_thread() is threading.main_thread():
            watch.start()
        try:
            self._run(jobs, on_done)
        finally:
            self._watch = None
            if watch is not None:
                watch.stop()
                if watch.died is not None:
                    self.started = False  # nothing to shut down; ray.shutdown() would wait on the dead
                    self.failed = True
                    self._stdout.silence()
                    raise ExecutorError(watch.died) from None

    def _run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        total: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        # Enough tasks queued to keep every CPU busy, few enough that the batches in flight stay small.
        window = max(2, 2 * int(total.get("CPU", 1)))
        todo: Iterator[Job] = iter(jobs)
        pending: dict[Any, Job] = {}

        def fill() -> None:
            while len(pending) < window and (job := next(todo, None)) is not None:
                self._check(job.entry, total)
                try:
                    inputs = job.load()
                except Exception as exc:
                    on_done(job, Outcome("crashed", None, 0.0, f"loading inputs failed: {describe(exc)}"))
                    continue
                pending[self._submit(job, inputs)] = job

        try:
            fill()
            while pending:
                # In short waits: a raylet that died is noticed here, before Ray ends the driver.
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                if self._watch is not None and self._watch.dead():
                    raise ExecutorError(self._watch.died or "")
                if not ready:
                    continue
                job = pending.pop(ready[0])
                on_done(job, self._outcome(ready[0]))
                fill()
        except ExecutorError:
            raise  # the raylet is gone: nothing to cancel, and asking it would wait
        except BaseException:
            for ref in pending:  # the run stopped early: do not leave pieces running on the cluster
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        try:
            if self.started and ray.is_initialized():
                ray.shutdown()
            self.started = False
        finally:
            if not self.failed:
                self._stdout.restore()


__all__ = [
    "MISSING",
    "NodeSettings",
    "RayExecutor",
    "assigned_device",
    "local_raylet",
    "local_runtime_env",
    "pack_submission",
    "run_on_node",
]
