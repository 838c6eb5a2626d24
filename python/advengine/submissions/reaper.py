"""Cleanup that cannot be skipped: a supervisor process removes this process's temp dirs when it ends.

``atexit`` does not run on SIGTERM (how the engine stops a worker at its time limit), on SIGKILL or on
a crash, so temp dirs and their mounts leaked (a timed-out piece left 1.3 GB behind). Instead, the
first temp dir a process makes starts a small reaper process that reads ``add``/``del`` lines on a
pipe. The pipe closes however this process ends, normal exit, SIGTERM, SIGKILL or segfault, and the
reaper then removes Docker containers, cgroups (killing what is left in them), mounts and directories
still registered, and exits. It runs in its own session,
so killing this process's group does not take it along.

:func:`advengine.processes.die_with_parent` is the other half: PR_SET_PDEATHSIG, so the sandbox
command gets SIGKILL when the thread that started it dies.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

#: The reaper's program: remembers paths, and on EOF unmounts (lazily) and removes them.
_REAPER = r"""
import os, shutil, subprocess, sys, time
paths, containers, groups = {}, set(), set()
for line in sys.stdin:
    verb, _, path = line.rstrip("\n").partition(" ")
    if verb == "add":
        paths[path] = False
    elif verb == "mount":
        paths[path] = True
    elif verb == "docker":
        containers.add(path)
    elif verb == "cgroup":
        groups.add(path)
    elif verb == "del":
        paths.pop(path, None)
        containers.discard(path)
        groups.discard(path)
for name in containers:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
for attempt in range(20):
    for group in list(groups):
        try:
            for pid in open(os.path.join(group, "cgroup.procs")).read().split():
                os.kill(int(pid), 9)
            os.rmdir(group)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        groups.discard(group)
    if not groups:
        break
    time.sleep(0.1)
for path, mounted in sorted(paths.items(), key=lambda kv: -len(kv[0])):
    if mounted:
        subprocess.run(["umount", "-l", path], capture_output=True)
for attempt in range(3):
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    if not any(os.path.lexists(p) for p in paths):
        break
    time.sleep(1.0)  # a process of the dead sandbox may still be exiting
"""

_lock = threading.Lock()
_reaper: subprocess.Popen[bytes] | None = None
_owner = 0


def _send(line: str) -> None:
    global _reaper, _owner
    with _lock:
        if _reaper is None or _owner != os.getpid() or _reaper.poll() is not None:
            # Not inherited across fork: a child process gets a reaper of its own.
            _reaper = subprocess.Popen(
                [sys.executable, "-c", _REAPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
            _owner = os.getpid()
        assert _reaper.stdin is not None
        _reaper.stdin.write((line + "\n").encode())
        _reaper.stdin.flush()


def register(path: Path, *, mount: bool = False, cgroup: bool = False) -> None:
    """Remove ``path`` (after unmounting it when ``mount``; killing its processes and removing it with
    rmdir when ``cgroup``) if this process ends before :func:`release`."""
    verb = "mount" if mount else "cgroup" if cgroup else "add"
    _send(f"{verb} {os.path.abspath(path)}")


def release(path: Path) -> None:
    """``path`` was cleaned up normally: the reaper forgets it."""
    _send(f"del {os.path.abspath(path)}")


def register_container(name: str) -> None:
    """``docker rm -f`` the container ``name`` if this process ends before :func:`release_container`
    (killing the docker client does not stop its container)."""
    _send(f"docker {name}")


def release_container(name: str) -> None:
    _send(f"del {name}")


def temp_dir(prefix: str) -> Path:
    """A new directory under the system temp dir, removed by the reaper when this process ends."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    register(path)
    return path


def reaper_pid() -> int | None:
    """The reaper of this process (tests), or None when none was needed yet."""
    return _reaper.pid if _reaper is not None and _owner == os.getpid() else None


def _close_at_exit() -> None:
    # A normal exit closes the pipe anyway; closing it here just lets the reaper start sooner.
    if _reaper is not None and _owner == os.getpid() and _reaper.stdin is not None:
        _reaper.stdin.close()


atexit.register(_close_at_exit)

__all__ = [
    "reaper_pid",
    "register",
    "register_container",
    "release",
    "release_container",
    "temp_dir",
]
