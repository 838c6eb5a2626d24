"""How a submission's entry point is confined: bubblewrap, Docker, or (only when asked) nothing.

bubblewrap (``bwrap``) builds a fresh root for every run: the host's system directories and the
directories of this Python interpreter, read-only; ``/code`` (a fresh copy of the submission) and
``/input_images`` read-only; only ``/output_images`` (attacks) or ``/output_data`` (defenses) writable;
a private tmpfs ``/tmp``; no network (``--unshare-net``: only a loopback of its own), its own PID
namespace (``--unshare-pid``, ``--die-with-parent``). ``prlimit`` caps the address space
(RLIMIT_AS), processes (RLIMIT_NPROC) and file size (RLIMIT_FSIZE).

RLIMIT_NPROC is never enforced for host uid 0, so when advengine runs as root the sandboxed command
drops to an unprivileged uid with ``setpriv`` (bwrap keeps only CAP_SETUID/CAP_SETGID for that and the
command ends with no capabilities). Unprivileged users get a user namespace instead, where the
process count is kept per namespace. See docs/submissions.md.

Docker (when an engine answers ``docker info``) runs the metadata's ``container`` image with
``--network none`` and the same limits; this path is only unit-tested for the command it builds.
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

SandboxChoice = Literal["auto", "bwrap", "docker", "unsafe-none"]
CHOICES: tuple[SandboxChoice, ...] = ("auto", "bwrap", "docker", "unsafe-none")
#: Host directories every sandbox sees read-only (when they exist).
SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Base of the unprivileged uids used when advengine runs as root (one per run, by process id).
UID_BASE = 200_000


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one run (per process for memory and file size; per run for processes)."""

    memory_bytes: int = 8 << 30
    nproc: int = 256
    fsize_bytes: int = 1 << 30


@dataclasses.dataclass(frozen=True)
class Mounts:
    """Host directories behind the contract paths of §2.3."""

    code: Path
    inputs: Path
    output: Path
    #: ``/output_images`` for attacks, ``/output_data`` for defenses.
    output_target: str


@dataclasses.dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]
    #: The cwd for the host process (the sandbox sets its own working directory).
    cwd: Path
    #: The uid the output directory must belong to (root runs only), else None.
    chown_to: int | None = None


def _host_python_dirs() -> list[str]:
    """Directories the host interpreter needs: its prefixes and every import path (editable installs)."""
    found: set[str] = set()
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path):
        if p and os.path.isdir(p):
            found.add(os.path.realpath(p))
            found.add(os.path.abspath(p))
    exe = os.path.realpath(sys.executable)
    found.add(os.path.dirname(exe))
    found.add(os.path.dirname(os.path.abspath(sys.executable)))
    # Drop paths inside another one that is bound anyway, and ones the system dirs already cover.
    system = tuple(os.path.realpath(d) for d in SYSTEM_DIRS)
    keep = sorted(
        p for p in found if p != "/" and not p.startswith(tuple(s + "/" for s in system)) and p not in system
    )
    return [p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep)]


def sandbox_path() -> str:
    """PATH inside the sandbox: this interpreter first, so ``python3`` has numpy and Pillow."""
    return ":".join(
        dict.fromkeys(
            [os.path.dirname(os.path.abspath(sys.executable)), "/usr/local/bin", "/usr/bin", "/bin"]
        )
    )


def _prlimit(limits: Limits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.nproc}",
        f"--fsize={limits.fsize_bytes}",
        "--",
    ]


def bwrap_command(mounts: Mounts, argv: Sequence[str], limits: Limits, *, as_root: bool, uid: int) -> Command:
    """The full command line that runs ``argv`` (relative to /code) under bubblewrap."""
    cmd = [*_prlimit(limits), "bwrap"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    # /tmp first: the interpreter may live below it (a venv in a temporary checkout), and a tmpfs
    # mounted after those binds would hide them.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[str] = set()
    for d in _host_python_dirs():
        # Privileged bwrap creates missing parents as 0700; an unprivileged uid must traverse them.
        parents = [str(p) for p in reversed(Path(d).parents) if str(p) != "/"]
        for parent in parents:
            if parent not in made:
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", parent]
        cmd += ["--ro-bind", d, d]
    cmd += ["--ro-bind", str(mounts.code), "/code", "--ro-bind", str(mounts.inputs), "/input_images"]
    cmd += ["--bind", str(mounts.output), mounts.output_target, "--remount-ro", "/", "--chdir", "/code"]
    cmd += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    cmd += ["--die-with-parent", "--hostname", "sandbox", "--clearenv"]
    env = {"PATH": sandbox_path(), "HOME": "/tmp", "LANG": "C.UTF-8"}
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


def docker_command(mounts: Mounts, argv: Sequence[str], limits: Limits, image: str, name: str) -> Command:
    """``docker run`` with the original mounts (§6.1), no network and the same limits."""
    mem = str(limits.memory_bytes)
    cmd = [
        "docker", "run", "--rm", "--name", name, "--network", "none", "--read-only",
        "--memory", mem, "--memory-swap", mem, "--pids-limit", str(limits.nproc),
        "--ulimit", f"nproc={limits.nproc}:{limits.nproc}",
        "--ulimit", f"fsize={limits.fsize_bytes}:{limits.fsize_bytes}",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp",
        "-v", f"{mounts.code}:/code:ro", "-v", f"{mounts.inputs}:/input_images:ro",
        "-v", f"{mounts.output}:{mounts.output_target}:rw", "-w", "/code", image, *argv,
    ]  # fmt: skip
    return Command(cmd, {"PATH": search_path()}, mounts.code)


def run_uid() -> int:
    """The unprivileged uid of runs started by this process (root only): RLIMIT_NPROC counts per uid,
    so concurrent workers must not share one."""
    return UID_BASE + os.getpid() % 100_000


def prepare_mounts(base: Path, output_target: str) -> Mounts:
    """Create code/, input/ and output/ under ``base``, readable by an unprivileged sandbox uid."""
    base.chmod(0o755)
    dirs = [base / "code", base / "input", base / "output"]
    for d in dirs:
        d.mkdir(exist_ok=True)
        d.chmod(0o755)
    return Mounts(dirs[0], dirs[1], dirs[2], output_target)


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
    "docker_status",
    "prepare_mounts",
    "resolve_sandbox",
    "run_uid",
    "sandbox_path",
]
