"""One resource budget per submission run: memory (tmpfs included), processes and disk.

RLIMIT_AS and RLIMIT_NPROC are per process (or per uid), and a tmpfs does not count against either:
four children could hold 500 MB each under a 512 MB limit, and ``/tmp`` took 600 MB. So every run
gets, where the machine allows it:

- **a cgroup made for the run**: cgroup v2 (``memory.max``, ``memory.swap.max`` = 0, ``pids.max``)
  when the v2 hierarchy offers the memory and pids controllers below this process's cgroup, else
  cgroup v1 (``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes``, ``pids.max``) in the
  memory and pids hierarchies. The kernel charges tmpfs pages to the cgroup of the process that wrote
  them, so the memory budget covers ``/tmp`` and the output dir too. The sandbox command joins it
  before it starts (``preexec_fn``), so every descendant is inside;
- **a sized tmpfs** (root only: it is mounted on the host) holding the run's ``/tmp`` and its output
  dir, so the disk budget holds for the whole run, not per file.

Where neither is possible (an unprivileged user without a delegated cgroup), the fallback is weaker
and said so in ``run.json`` (``budget``): bubblewrap's own ``/tmp`` tmpfs sized at a quarter of the
memory budget, RLIMIT_AS of the remaining three quarters per process, RLIMIT_NPROC, and RLIMIT_FSIZE
per output file.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import itertools
import os
import time
from pathlib import Path
from typing import Literal

from advengine.submissions.reaper import register, release

CgroupKind = Literal["v2", "v1"]
_counter = itertools.count()


@dataclasses.dataclass(frozen=True)
class Cgroup:
    """A cgroup made for one run: one directory (v2) or one per hierarchy (v1: memory, pids)."""

    kind: CgroupKind
    dirs: tuple[Path, ...]

    def join(self) -> None:
        """Move the calling process into the cgroup (runs in the child between fork and exec)."""
        pid = str(os.getpid()).encode()
        for d in self.dirs:
            fd = os.open(d / "cgroup.procs", os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        return sorted(found)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the run for going over the memory budget."""
        try:
            name = "memory.events" if self.kind == "v2" else "memory.oom_control"
            words = (self.dirs[0] / name).read_text().split()
            return int(dict(zip(words[::2], words[1::2], strict=True)).get("oom_kill", "0")) > 0
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL every process left in the cgroup (daemons included: nothing escapes it)."""
        for p in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, 9)

    def remove(self) -> None:
        """SIGKILL whatever is left in the cgroup, then remove it."""
        for _ in range(50):
            self.kill()
            with contextlib.suppress(OSError):
                for d in self.dirs:
                    if d.exists():
                        d.rmdir()
            if not any(d.exists() for d in self.dirs):
                for d in self.dirs:
                    release(d)
                return
            time.sleep(0.05)


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _mounts() -> list[tuple[str, str, str, str]]:
    """(root, mount point, fstype, super options) of every mount of this process."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        out.append((fields[3], fields[4], fields[sep + 1], fields[sep + 3]))
    return out


def _own_paths() -> dict[str, str]:
    """This process's cgroup per hierarchy: ``""`` for v2, each v1 controller name otherwise."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path
    return own


def _under(mount_point: str, root: str, path: str) -> Path:
    rel = path[len(root) :] if root != "/" and path.startswith(root) else path
    return Path(mount_point, rel.lstrip("/"))


def _v2_parent() -> Path | None:
    own = _own_paths().get("")
    for root, point, fstype, _ in _mounts():
        if fstype != "cgroup2" or own is None:
            continue
        parent = _under(point, root, own)
        try:
            available = (parent / "cgroup.controllers").read_text().split()
            if not {"memory", "pids"} <= set(available):
                continue
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            if not {"memory", "pids"} <= set(enabled):
                _write(parent / "cgroup.subtree_control", "+memory +pids")
            return parent
        except OSError:
            continue  # not delegated to us, or the parent holds processes (no internal processes)
    return None


def _v1_parents() -> tuple[Path, Path] | None:
    own = _own_paths()
    found: dict[str, Path] = {}
    for root, point, fstype, opts in _mounts():
        if fstype != "cgroup":
            continue
        for c in ("memory", "pids"):
            if c in opts.split(",") and c in own and c not in found:
                found[c] = _under(point, root, own[c])
    if set(found) != {"memory", "pids"} or not all(os.access(p, os.W_OK) for p in found.values()):
        return None
    return found["memory"], found["pids"]


@functools.cache
def cgroup_support() -> CgroupKind | None:
    """Which cgroup version this process can make run cgroups in (probed once), or None."""
    kinds: tuple[CgroupKind, ...] = ("v2", "v1")
    for kind in kinds:
        try:
            probe = make_cgroup(kind, 64 << 20, 8)
        except OSError:
            continue
        probe.remove()
        return kind
    return None


def make_cgroup(kind: str, memory_bytes: int, nproc: int) -> Cgroup:
    """A new cgroup limited to ``memory_bytes`` (no swap) and ``nproc`` processes; raises OSError."""
    name = f"advengine-{os.getpid()}-{next(_counter)}"
    if kind == "v2":
        parent = _v2_parent()
        if parent is None:
            raise OSError("no delegated cgroup v2 with the memory and pids controllers")
        d = parent / name
        d.mkdir()
        register(d, cgroup=True)
        group = Cgroup("v2", (d,))
        try:
            _write(d / "memory.max", str(memory_bytes))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(nproc))
        except OSError:
            group.remove()
            raise
        return group
    parents = _v1_parents()
    if parents is None:
        raise OSError("no writable cgroup v1 memory and pids hierarchies")
    mem, pids = parents[0] / name, parents[1] / name
    mem.mkdir()
    register(mem, cgroup=True)
    group = Cgroup("v1", (mem, pids))
    try:
        pids.mkdir()
        register(pids, cgroup=True)
        _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        if (mem / "memory.memsw.limit_in_bytes").exists():
            _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(pids / "pids.max", str(nproc))
    except OSError:
        group.remove()
        raise
    return group


def mount_tmpfs(target: Path, size_bytes: int) -> None:
    """A tmpfs of ``size_bytes`` on ``target`` (needs CAP_SYS_ADMIN); raises OSError."""
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"size={size_bytes},mode=0755".encode()
    if libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", 0, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


def unmount(target: Path) -> None:
    """Detach the tmpfs at ``target`` (lazily: a dying process may still hold a file open)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.umount2(str(target).encode(), 2)  # MNT_DETACH


__all__ = ["Cgroup", "CgroupKind", "cgroup_support", "make_cgroup", "mount_tmpfs", "unmount"]
