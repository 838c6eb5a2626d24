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

Submissions are shipped as their archive bytes, put in the object store once per digest and
written once per node under ``<tmp>/advengine-ray/submissions/<digest>/``; their logs stay on the
node (``<tmp>/advengine-ray/logs/<digest>/``).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from advengine import env
from advengine.competition.artefacts import PieceId
from advengine.competition.executor import Job, Outcome, ProcessExecutor, describe
from advengine.competition.pieces import Inputs
from advengine.context import RunContext
from advengine.errors import ConfigError
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
        self.started = connect(address, num_cpus)
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
            return Outcome("crashed", None, 0.0, f"Ray task failed: {describe(exc)}")
        if isinstance(value, _Fatal):
            raise ConfigError(value.message)
        assert isinstance(value, Outcome)
        return value

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
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
                ready, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready[0])
                on_done(job, self._outcome(ready[0]))
                fill()
        finally:
            for ref in pending:  # the run stopped early: do not leave pieces running on the cluster
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.started and ray.is_initialized():
            ray.shutdown()
        self.started = False


__all__ = [
    "MISSING",
    "NodeSettings",
    "RayExecutor",
    "assigned_device",
    "local_runtime_env",
    "pack_submission",
    "run_on_node",
]
