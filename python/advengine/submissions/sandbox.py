"""How a submission's entry point is confined: bubblewrap, Docker, or (only when asked) nothing.

bubblewrap (``bwrap``) builds a fresh root for every run from an allow-list (:mod:`visible`): the
host's system directories, the interpreter's own paths (stdlib, site-packages, never ``sys.path``)
and advengine's code without its data, read-only; ``/code`` (a fresh copy of the submission) and
``/input_images`` read-only; only ``/output_images`` (attacks) or ``/output_data`` (defenses) and
``/tmp`` writable, both on the run's sized tmpfs when advengine can mount one; no network
(``--unshare-net``: only a loopback of its own), its own PID namespace (``--unshare-pid``,
``--die-with-parent``). ``prlimit`` sets RLIMIT_AS, RLIMIT_NPROC and RLIMIT_FSIZE per process; the
run's cgroup (:mod:`budget`, joined by the runner) bounds the whole run.

RLIMIT_NPROC is never enforced for host uid 0, so when advengine runs as root the sandboxed command
drops to an unprivileged uid with ``setpriv`` (bwrap keeps only CAP_SETUID/CAP_SETGID for that and the
command ends with no capabilities). Unprivileged users get a user namespace instead, where the
process count is kept per namespace. See docs/submissions.md.

Docker (when an engine answers ``docker info``) runs the metadata's ``container`` image (or
``container_gpu`` with ``--gpus``) with ``--network none`` and the run's budget.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from advengine.env import search_path
from advengine.errors import SandboxError
from advengine.submissions.budget import mount_tmpfs, unmount
from advengine.submissions.reaper import register, release
from advengine.submissions.visible import (
    PACKAGE_ROOT,
    empty_file,
    hashed_listings,
    installed_packages,
    interpreter_paths,
)

SandboxChoice = Literal["auto", "bwrap", "docker", "unsafe-none"]
CHOICES: tuple[SandboxChoice, ...] = ("auto", "bwrap", "docker", "unsafe-none")
#: Host directories every sandbox sees read-only (when they exist).
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Base of the unprivileged uids used when advengine runs as root (one per run, by process id).
UID_BASE = 200_000


@dataclasses.dataclass(frozen=True)
class Limits:
    """The budget of one run (memory, processes and disk for the whole run; file size per file)."""

    memory_bytes: int = 8 << 30
    nproc: int = 256
    fsize_bytes: int = 1 << 30
    #: /tmp and the output dir together (a host tmpfs when advengine runs as root).
    disk_bytes: int = 2 << 30


@dataclasses.dataclass(frozen=True)
class Mounts:
    """Host directories behind the contract paths of §2.3."""

    code: Path
    inputs: Path
    output: Path
    #: ``/output_images`` for attacks, ``/output_data`` for defenses.
    output_target: str
    #: The host dir bound as /tmp (on the run's sized tmpfs), or None for bubblewrap's own tmpfs.
    tmp: Path | None = None


@dataclasses.dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]
    #: The cwd for the host process (the sandbox sets its own working directory).
    cwd: Path
    #: The uid the output directory must belong to (root runs only), else None.
    chown_to: int | None = None
    #: Docker: the container's name (stopping the client does not stop the container).
    container: str | None = None


def _python_binds() -> list[str]:
    """The allow-listed interpreter paths (see :mod:`visible`) that the system dirs do not cover."""
    system = tuple(os.path.realpath(d) for d in SYSTEM_DIRS)
    return [
        p
        for p in interpreter_paths()
        if p != "/" and p not in system and not p.startswith(tuple(s + "/" for s in system))
    ]


def sandbox_path() -> str:
    """PATH inside the sandbox: this interpreter first, so ``python3`` has numpy and Pillow."""
    return ":".join(
        dict.fromkeys(
            [os.path.dirname(os.path.abspath(sys.executable)), "/usr/local/bin", "/usr/bin", "/bin"]
        )
    )


def address_space(limits: Limits, *, cgroup: bool) -> int:
    """RLIMIT_AS per process: the whole budget under a cgroup (a clean MemoryError for one big
    process; the cgroup bounds the sum); otherwise the share left next to the sized /tmp."""
    return limits.memory_bytes if cgroup else limits.memory_bytes - fallback_tmp_size(limits)


def fallback_tmp_size(limits: Limits) -> int:
    """Size of bubblewrap's own /tmp when no host tmpfs holds the run: a quarter of the memory."""
    return min(limits.disk_bytes, limits.memory_bytes // 4)


def _prlimit(limits: Limits, as_bytes: int) -> list[str]:
    return [
        "prlimit",
        f"--as={as_bytes}",
        f"--nproc={limits.nproc}",
        f"--fsize={limits.fsize_bytes}",
        "--",
    ]


def _dirs_for(path: str, made: set[str]) -> list[str]:
    """``--dir`` for the missing parents of ``path``: privileged bwrap would create them as 0700, and
    an unprivileged uid must traverse them."""
    out: list[str] = []
    for parent in [str(p) for p in reversed(Path(path).parents) if str(p) != "/"]:
        if parent not in made:
            made.add(parent)
            out += ["--perms", "0755", "--dir", parent]
    return out


def bwrap_command(
    mounts: Mounts,
    argv: Sequence[str],
    limits: Limits,
    *,
    as_root: bool,
    uid: int,
    cgroup: bool = False,
    package: Path | None = None,
) -> Command:
    """The full command line that runs ``argv`` (relative to /code) under bubblewrap.

    ``package`` is the filtered advengine copy (:func:`visible.shared_package_copy`); ``cgroup`` says
    whether the run is in a cgroup of its own (then RLIMIT_AS is the whole budget per process)."""
    cmd = [*_prlimit(limits, address_space(limits, cgroup=cgroup)), "bwrap"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    # /tmp first: the interpreter may live below it (a venv in a temporary checkout), and a tmpfs
    # mounted after those binds would hide them.
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    if mounts.tmp is not None:
        cmd += ["--bind", str(mounts.tmp), "/tmp"]
    else:
        cmd += ["--perms", "1777", "--size", str(fallback_tmp_size(limits)), "--tmpfs", "/tmp"]
    made: set[str] = set()
    for d in _python_binds():
        cmd += [*_dirs_for(d, made), "--ro-bind", d, d]
    if package is not None:
        # advengine's code without its data, over every installed copy too (visible.py).
        for target in [f"{PACKAGE_ROOT}/advengine", *installed_packages()]:
            cmd += [*_dirs_for(target, made), "--ro-bind", str(package), target]
    # After the site-packages binds: an installed advengine's RECORD lists every sample image's
    # sha256, so it is masked with an empty file (visible.py).
    for listing in hashed_listings():
        cmd += ["--ro-bind", str(empty_file()), listing]
    cmd += ["--ro-bind", str(mounts.code), "/code", "--ro-bind", str(mounts.inputs), "/input_images"]
    cmd += ["--bind", str(mounts.output), mounts.output_target, "--remount-ro", "/", "--chdir", "/code"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    cmd += ["--die-with-parent", "--hostname", "sandbox", "--clearenv"]
    env = {"PATH": sandbox_path(), "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONPATH": PACKAGE_ROOT}
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    if as_root:
        # RLIMIT_NPROC does not apply to uid 0: become an unprivileged uid inside; setpriv needs these two
        # capabilities for that, and the process has none left once it is no longer root.
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    else:
        cmd += ["--unshare-user", "--"]
    return Command(
        cmd + list(argv),
        {"PATH": search_path()},
        mounts.code,
        uid if as_root else None,
    )


def docker_image(meta_container: str, meta_gpu: str | None, gpus: str | None) -> str:
    """The image to run: ``container_gpu`` when GPUs are requested (falling back to ``container`` when
    the metadata has none), else ``container``, as in the original evaluation."""
    return (meta_gpu or meta_container) if gpus else meta_container


def docker_command(
    mounts: Mounts, argv: Sequence[str], limits: Limits, image: str, name: str, gpus: str | None = None
) -> Command:
    """``docker run`` with the original mounts (§6.1), no network and the run's budget (one container
    is one cgroup: memory including the /tmp tmpfs, pids); ``gpus`` is passed to ``--gpus``."""
    mem = str(limits.memory_bytes)
    cmd = [
        "docker", "run", "--rm", "--name", name, "--network", "none", "--read-only",
        "--memory", mem, "--memory-swap", mem, "--pids-limit", str(limits.nproc),
        "--ulimit", f"nproc={limits.nproc}:{limits.nproc}",
        "--ulimit", f"fsize={limits.fsize_bytes}:{limits.fsize_bytes}",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--tmpfs", f"/tmp:rw,size={limits.disk_bytes}",
    ]  # fmt: skip
    if gpus:
        cmd += ["--gpus", gpus]
    cmd += [
        "-v", f"{mounts.code}:/code:ro", "-v", f"{mounts.inputs}:/input_images:ro",
        "-v", f"{mounts.output}:{mounts.output_target}:rw", "-w", "/code", image, *argv,
    ]  # fmt: skip
    return Command(cmd, {"PATH": search_path()}, mounts.code, container=name)


def run_uid() -> int:
    """The unprivileged uid of runs started by this process (root only): RLIMIT_NPROC counts per uid,
    so concurrent workers must not share one."""
    return UID_BASE + os.getpid() % 100_000


def prepare_mounts(base: Path, output_target: str, disk_bytes: int | None = None) -> Mounts:
    """Create code/, input/ and output/ under ``base``, readable by an unprivileged sandbox uid.

    With ``disk_bytes`` (and the right to mount), output/ and the run's /tmp live on one tmpfs of
    that size at ``base/rw``: one disk budget for the run, charged to the run's memory cgroup. The
    reaper unmounts it should this process die first."""
    base.chmod(0o755)
    dirs = [base / "code", base / "input"]
    for d in dirs:
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
    tmp = None
    rw = base
    if disk_bytes is not None and os.geteuid() == 0:
        (base / "rw").mkdir(exist_ok=True)
        try:
            mount_tmpfs(base / "rw", disk_bytes)
        except OSError:
            pass  # no CAP_SYS_ADMIN here: bubblewrap's own /tmp and RLIMIT_FSIZE (weaker)
        else:
            register(base / "rw", mount=True)
            rw, tmp = base / "rw", base / "rw" / "tmp"
            tmp.mkdir()
            tmp.chmod(0o1777)
    (rw / "output").mkdir(exist_ok=True)
    (rw / "output").chmod(0o755)
    return Mounts(dirs[0], dirs[1], rw / "output", output_target, tmp)


def release_mounts(mounts: Mounts) -> None:
    """Unmount the run's tmpfs (if it has one); the caller removes the directories."""
    if mounts.tmp is not None:
        unmount(mounts.tmp.parent)
        release(mounts.tmp.parent)


@functools.cache
def bwrap_status() -> str | None:
    """None when bwrap can build the sandbox on this machine, else why not (one line)."""
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install -y bubblewrap util-linux)"
    try:
        with tempfile.TemporaryDirectory(prefix="advengine-probe-") as tmp:
            mounts = prepare_mounts(Path(tmp), "/output_images")
            probe = bwrap_command(mounts, ["/bin/true"], Limits(), as_root=os.geteuid() == 0, uid=run_uid())
            if probe.chown_to is not None:
                os.chown(mounts.output, probe.chown_to, probe.chown_to)
            done = subprocess.run(probe.argv, capture_output=True, timeout=30, check=False, env=probe.env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start ({exc})"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        return f"bwrap cannot create namespaces here ({why[-1] if why else f'exit {done.returncode}'})"
    return None


@functools.cache
def docker_status() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "docker not found"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed ({exc})"
    return None if done.returncode == 0 else "no Docker engine answers `docker info`"


def resolve_sandbox(choice: str) -> Literal["bwrap", "docker", "unsafe-none"]:
    """The sandbox to use for ``choice``; raises :class:`SandboxError` when it cannot be made.

    ``auto`` prefers Docker when an engine answers (it runs the submission's own image), then bwrap."""
    if choice not in CHOICES:
        raise SandboxError(f"sandbox must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "unsafe-none":
        return "unsafe-none"
    if choice in ("auto", "docker") and docker_status() is None:
        return "docker"
    if choice == "docker":
        raise SandboxError(f"sandbox 'docker' is not available: {docker_status()}")
    why = bwrap_status()
    if why is None:
        return "bwrap"
    raise SandboxError(
        f"no sandbox can be made: {why}; install bubblewrap (apt-get install -y bubblewrap) "
        "or pass --unsafe-no-sandbox to run submissions unconfined"
    )


__all__ = [
    "CHOICES",
    "Command",
    "Limits",
    "Mounts",
    "SandboxChoice",
    "bwrap_command",
    "bwrap_status",
    "docker_command",
    "docker_image",
    "docker_status",
    "prepare_mounts",
    "release_mounts",
    "resolve_sandbox",
    "run_uid",
    "sandbox_path",
]
