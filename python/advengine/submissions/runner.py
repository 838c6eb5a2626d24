"""Runs a submission's entry point on one batch with the original contract (protocol §2.3).

- attack / targeted attack: ``./<entry_point> /input_images /output_images <EPS>`` (targeted attacks
  also find ``target_class.csv`` in the input directory);
- defense: ``./<entry_point> /input_images /output_data/result.csv``.

Every run gets a fresh copy of the submission as ``/code`` (its working directory), inputs named
``IMG%06d.png`` (EVALINFRA style: names say nothing about the batch or the attack), a wall-clock time
limit after which the whole process tree gets SIGTERM and, ``grace`` seconds later, SIGKILL. Its
stdout, stderr, exit code and timing go to the log directory. A run that fails or is killed keeps the
outputs it already wrote (as in EVALINFRA); only a run with no output at all fails the piece.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import psutil
from PIL import Image

from advengine.errors import SubmissionError
from advengine.files import atomic_write
from advengine.kernels import write_png_batch
from advengine.processes import die_with_parent
from advengine.submissions.archive import Submission, check_entry_point
from advengine.submissions.budget import Cgroup, cgroup_support, make_cgroup
from advengine.submissions.logs import CappedLog
from advengine.submissions.reaper import register_container, release, release_container, temp_dir
from advengine.submissions.sandbox import (
    Command,
    Limits,
    Mounts,
    address_space,
    bwrap_command,
    docker_command,
    docker_image,
    prepare_mounts,
    release_mounts,
    resolve_sandbox,
    run_uid,
    sandbox_path,
)
from advengine.submissions.visible import shared_package_copy

ImagesU8 = npt.NDArray[np.uint8]
#: A label for an image the defense did not classify (the engine's scoring.MISSING).
MISSING = -1
#: Largest output image accepted (pixels); bigger files count as missing instead of exhausting memory.
MAX_OUTPUT_PIXELS = 4096 * 4096
_TAIL = 2000


@dataclasses.dataclass(frozen=True)
class Settings:
    """How runs are confined and bounded."""

    sandbox: str = "auto"
    limits: Limits = dataclasses.field(default_factory=Limits)
    time_limit: float = 500.0
    grace: float = 10.0
    #: Docker only: ``--gpus`` value ("all", "device=0"); the run then uses ``container_gpu``.
    gpus: str | None = None


@dataclasses.dataclass(frozen=True)
class RunResult:
    status: Literal["ok", "failed", "timeout"]
    exit_code: int | None
    seconds: float
    sandbox: str
    argv: list[str]
    stdout_tail: str
    stderr_tail: str
    #: How the run's budget was enforced (cgroup version, tmpfs, or the weaker fallback).
    budget: str = ""
    #: The kernel killed a process of the run for going over the memory budget.
    oom_killed: bool = False

    def describe(self, name: str, limit: float) -> str:
        if self.status == "timeout":
            return f"submission {name} was killed after the {limit:g} s time limit"
        if self.oom_killed:
            return f"submission {name} went over its memory budget and was killed (exit {self.exit_code})"
        last = (self.stderr_tail.strip().splitlines() or ["(no stderr)"])[-1]
        return f"submission {name} exited with code {self.exit_code}: {last}"


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and all its descendants (host pids), parents first; empty when ``pid`` is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:  # gone already, or (another uid's) not ours to see
        return []


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def _signal_all(procs: Sequence[psutil.Process], sig: int) -> None:
    for p in procs:
        # psutil checks the process is still the one listed (pid reuse) before it signals.
        with contextlib.suppress(psutil.Error):
            p.send_signal(sig)


def stop_tree(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to every process of the run, SIGKILL to what is left after ``grace`` seconds.

    bwrap's own processes are spared the SIGTERM (they would die at once and take the sandbox with
    them, leaving the submission no time to finish writing); they get the SIGKILL."""
    tree = process_tree(proc.pid)
    ours = [p for p in tree if _name(p) != "bwrap"]
    _signal_all(ours, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    _kill_rest(proc)


def _kill_rest(proc: subprocess.Popen[bytes]) -> None:
    tree = process_tree(proc.pid) if proc.poll() is None else []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    _signal_all(tree, signal.SIGKILL)
    proc.wait()


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - _TAIL))
        return f.read().decode(errors="replace")


def _fresh_code(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    # The sandbox may run as another uid: everything readable, exec bits kept.
    for dirpath, dirnames, filenames in os.walk(dest):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            os.chmod(p, os.stat(p).st_mode | 0o555)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, os.stat(p).st_mode | 0o444)


@contextlib.contextmanager
def staging(sub: Submission, output_target: str, limits: Limits | None = None) -> Iterator[Mounts]:
    """A fresh run directory: code (a copy of the submission), input, output (and the run's /tmp on a
    tmpfs of ``limits.disk_bytes`` when possible). Removed afterwards, or by the reaper should this
    process be killed first."""
    base = temp_dir(f"advengine-{sub.name[:40]}-")
    mounts = None
    try:
        mounts = prepare_mounts(base, output_target, limits.disk_bytes if limits else None)
        _fresh_code(sub.root, mounts.code)
        yield mounts
    finally:
        if mounts is not None:
            release_mounts(mounts)
        shutil.rmtree(base, ignore_errors=True)
        release(base)


def _budget(kind: str, limits: Limits, mounts: Mounts) -> tuple[Cgroup | None, str]:
    """The run's cgroup (None for Docker, whose container is one) and how the budget is enforced."""
    if kind == "docker":
        return None, "docker container (memory incl. /tmp, pids)"
    disk = "tmpfs for /tmp and output" if mounts.tmp is not None else "per-file RLIMIT_FSIZE (weaker)"
    support = cgroup_support()
    if support is None:
        return None, f"RLIMIT_AS share + sized /tmp + RLIMIT_NPROC (weaker), {disk}"
    return make_cgroup(support, limits.memory_bytes, limits.nproc), f"cgroup {support}, {disk}"


def _command(
    sub: Submission, mounts: Mounts, args: Sequence[str], settings: Settings, kind: str, *, cgroup: bool
) -> Command:
    entry = f"./{sub.metadata.entry_point}"
    if kind == "bwrap":
        return bwrap_command(
            mounts,
            [entry, *args],
            settings.limits,
            as_root=os.geteuid() == 0,
            uid=run_uid(),
            cgroup=cgroup,
            package=shared_package_copy(),
        )
    if kind == "docker":
        name = f"advengine-{os.getpid()}-{time.monotonic_ns()}"
        register_container(name)  # removed by the reaper should this process die mid-run
        meta = sub.metadata
        image = docker_image(meta.container, meta.container_gpu, settings.gpus)
        return docker_command(mounts, [entry, *args], settings.limits, image, name, settings.gpus)
    # Unconfined (--unsafe-no-sandbox): host paths instead of the contract paths, limits still applied.
    host = [
        a.replace("/input_images", str(mounts.inputs)).replace(mounts.output_target, str(mounts.output))
        for a in args
    ]
    as_bytes = address_space(settings.limits, cgroup=cgroup)
    argv = ["prlimit", f"--as={as_bytes}", f"--fsize={settings.limits.fsize_bytes}", "--"]
    return Command([*argv, entry, *host], {"PATH": sandbox_path(), "HOME": str(mounts.code)}, mounts.code)


def execute(
    sub: Submission, mounts: Mounts, args: Sequence[str], settings: Settings, log_dir: Path | None
) -> RunResult:
    """Run the entry point once with ``args`` (contract paths) and wait, within the time limit."""
    check_entry_point(sub.source, mounts.code, sub.metadata.entry_point)
    kind = resolve_sandbox(settings.sandbox)
    group, budget = _budget(kind, settings.limits, mounts)
    try:
        cmd = _command(sub, mounts, args, settings, kind, cgroup=group is not None)
        if cmd.chown_to is not None:
            os.chown(mounts.output, cmd.chown_to, cmd.chown_to)
        logs = mounts.code.parent / "logs"
        logs.mkdir(exist_ok=True)
        status: Literal["ok", "failed", "timeout"] = "timeout"
        try:
            status, code, seconds = _wait(cmd, settings, group, logs)
        finally:
            if cmd.container is not None:
                if status == "timeout":  # a killed client leaves its container running
                    subprocess.run(["docker", "rm", "-f", cmd.container], capture_output=True, check=False)
                release_container(cmd.container)
    finally:
        if group is not None:
            oom = group.oom_killed()
            group.remove()  # and with it anything the run left behind
        else:
            oom = False
    result = RunResult(
        status, code, seconds, kind, cmd.argv, _tail(logs / "stdout.txt"), _tail(logs / "stderr.txt"),
        budget, oom,
    )  # fmt: skip
    if log_dir is not None:
        for name in ("stdout.txt", "stderr.txt"):  # capped at LOG_CAP (plus a marker line) each
            atomic_write(log_dir / name, (logs / name).read_bytes())
        info = {k: v for k, v in dataclasses.asdict(result).items() if not k.endswith("_tail")}
        atomic_write(log_dir / "run.json", json.dumps(info, indent=2) + "\n")
    return result


def _wait(
    cmd: Command, settings: Settings, group: Cgroup | None, logs: Path
) -> tuple[Literal["ok", "failed", "timeout"], int | None, float]:
    """Start ``cmd`` (in ``group``, dying with this process), stream its logs, enforce the limit."""

    def preexec() -> None:
        die_with_parent()
        if group is not None:
            group.join()

    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd.argv,
        cwd=cmd.cwd,
        env=cmd.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=preexec,  # only prctl, open and write: safe between fork and exec
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    streams = [CappedLog(proc.stdout, logs / "stdout.txt"), CappedLog(proc.stderr, logs / "stderr.txt")]
    status: Literal["ok", "failed", "timeout"]
    try:
        code: int | None = proc.wait(settings.time_limit)
        status = "ok" if code == 0 else "failed"
        _kill_rest(proc)  # anything it left running (unsafe mode: daemonised children)
    except subprocess.TimeoutExpired:
        stop_tree(proc, settings.grace)
        status, code = "timeout", None
    except BaseException:
        _kill_rest(proc)
        raise
    finally:
        if group is not None:
            group.kill()  # the pipes close only when every process holding them is gone
        for s in streams:
            s.finish()
    return status, code, time.perf_counter() - start


def input_names(n: int) -> list[str]:
    return [f"IMG{i:06d}.png" for i in range(n)]


def _write_inputs(mounts: Mounts, images: ImagesU8) -> list[str]:
    names = input_names(len(images))
    if names:
        # Staged inputs live for one run: fast compression (same pixels) is 10x quicker than the default.
        write_png_batch(images, [mounts.inputs / n for n in names], fast=True)
    for n in names:
        (mounts.inputs / n).chmod(0o644)
    return names


def _read_output(out_dir: Path, name: str) -> ImagesU8 | None:
    """One attack output as RGB uint8 (any size; the engine resizes), or None if missing or unusable.

    EVALINFRA accepted only ``<stem>.png``; DEVKIT also ``<stem>.jpg``, so both are tried."""
    stem = name.rsplit(".", 1)[0]
    for cand in (out_dir / name, out_dir / f"{stem}.jpg"):
        if not cand.is_file() or cand.is_symlink():
            continue
        try:
            with Image.open(cand) as img:
                if img.width * img.height > MAX_OUTPUT_PIXELS:
                    return None
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
    return None


def run_attack(
    sub: Submission,
    images: ImagesU8,
    eps: int,
    target_classes: npt.NDArray[np.int64] | None,
    settings: Settings,
    log_dir: Path | None = None,
) -> tuple[list[ImagesU8 | None], RunResult]:
    """Adversarial images for one batch (None where the submission wrote nothing usable)."""
    if sub.metadata.type == "defense":
        raise SubmissionError(f"{sub.source}: is a defense, not an attack")
    if sub.metadata.type == "targeted_attack" and target_classes is None:
        raise SubmissionError(f"{sub.source}: a targeted attack needs target classes")
    with staging(sub, "/output_images", settings.limits) as mounts:
        names = _write_inputs(mounts, images)
        if sub.metadata.type == "targeted_attack":
            assert target_classes is not None
            rows = "".join(f"{n},{int(t)}\n" for n, t in zip(names, target_classes, strict=True))
            (mounts.inputs / "target_class.csv").write_text(rows)
            (mounts.inputs / "target_class.csv").chmod(0o644)
        run = execute(sub, mounts, ["/input_images", "/output_images", str(int(eps))], settings, log_dir)
        outputs = [_read_output(mounts.output, n) for n in names]
    if run.status != "ok" and not any(o is not None for o in outputs):
        raise SubmissionError(run.describe(sub.name, settings.time_limit))
    return outputs, run


def _rows(text: str) -> Iterator[list[str]]:
    """csv.reader rows, skipping the ones it refuses (a field over 128 KiB, a NUL byte) instead of
    losing the batch: the reader resumes at the next line."""
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue


def parse_defense_csv(text: str, names: Sequence[str]) -> npt.NDArray[np.int64]:
    """Labels for ``names`` from a defense's result.csv with the original leniency (§2.5).

    csv.reader; column 0 is the name with a trailing .png/.jpg stripped; column 1 goes through int()
    (surrounding spaces allowed, "3.0" not); bad rows are skipped; the last duplicate wins; unknown
    names are ignored. Unlisted names get MISSING; labels outside 0..1000 become 0 (always wrong)."""
    index = {n.rsplit(".", 1)[0]: i for i, n in enumerate(names)}
    labels = np.full(len(names), MISSING, dtype=np.int64)
    for row in _rows(text):
        if len(row) < 2:
            continue
        name = row[0]
        for ext in (".png", ".jpg"):
            if name.endswith(ext):
                name = name[: -len(ext)]
                break
        try:
            label = int(row[1])
        except ValueError:
            continue
        if name in index:
            labels[index[name]] = label if 0 <= label <= 1000 else 0
    return labels


def run_defense(
    sub: Submission, images: ImagesU8, settings: Settings, log_dir: Path | None = None
) -> tuple[npt.NDArray[np.int64], RunResult]:
    """TF-Slim labels for one batch (MISSING where the defense gave none)."""
    if sub.metadata.type != "defense":
        raise SubmissionError(f"{sub.source}: is an attack, not a defense")
    with staging(sub, "/output_data", settings.limits) as mounts:
        names = _write_inputs(mounts, images)
        run = execute(sub, mounts, ["/input_images", "/output_data/result.csv"], settings, log_dir)
        result = mounts.output / "result.csv"
        text = None
        if result.is_file() and not result.is_symlink():
            text = result.read_bytes()[: 64 << 20].decode("utf-8", errors="replace")
    if text is None:
        if run.status == "ok":
            raise SubmissionError(f"submission {sub.name} exited 0 but wrote no result.csv")
        raise SubmissionError(run.describe(sub.name, settings.time_limit))
    return parse_defense_csv(text, names), run


__all__ = [
    "MISSING",
    "RunResult",
    "Settings",
    "execute",
    "input_names",
    "parse_defense_csv",
    "process_tree",
    "run_attack",
    "run_defense",
    "staging",
    "stop_tree",
]
