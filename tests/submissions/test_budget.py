"""One budget per run: hostile submissions that spread memory over children, fill /tmp or the disk."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from advengine.submissions import Limits, Settings
from advengine.submissions.budget import cgroup_support, make_cgroup

from .conftest import RunSub, WriteSub

#: Fills a directory 1 MiB at a time up to ``sys.argv[4]`` MiB, reporting progress; copies the inputs
#: first so the run has outputs (and fails only itself).
FILL = r"""
import os, shutil, sys
for n in os.listdir(sys.argv[1]):
    shutil.copy(os.path.join(sys.argv[1], n), sys.argv[2])
target, total = open("where.txt").read().strip(), int(open("mib.txt").read())
block = b"x" * (1 << 20)
for i in range(total):
    with open(os.path.join(target, f"f{i // 64}"), "ab") as f:
        f.write(block)
    print("wrote", i + 1, flush=True)
"""

#: Four children that each touch 500 MB at the same time, then report.
CHILDREN = r"""
import os, shutil, subprocess, sys
for n in os.listdir(sys.argv[1]):
    shutil.copy(os.path.join(sys.argv[1], n), sys.argv[2])
child = "import time; b = b'x' * (500 << 20); print('held', flush=True); time.sleep(3)"
procs = [subprocess.Popen([sys.executable, "-c", child]) for _ in range(4)]
codes = [p.wait() for p in procs]
print("children ok:", sum(c == 0 for c in codes), flush=True)
"""


def _wrote(logs: Path) -> int:
    lines = [ln for ln in (logs / "stdout.txt").read_text().splitlines() if ln.startswith("wrote")]
    return int(lines[-1].split()[1]) if lines else 0


def test_this_machine_gives_runs_a_cgroup() -> None:
    """The tests below rely on it: as root in a container here (cgroup v1), or with a delegated v2."""
    kind = cgroup_support()
    assert kind in ("v1", "v2"), "no cgroup can be made: run the tests as root or with a delegated cgroup"
    group = make_cgroup(kind, 64 << 20, 8)
    assert all(d.is_dir() for d in group.dirs)
    group.remove()
    assert not any(d.exists() for d in group.dirs)


def test_tmp_counts_against_the_memory_budget(
    write_sub: WriteSub, settings: Settings, run_sub: RunSub, tmp_path: Path
) -> None:
    """memory_mb=256 and a 600 MB write to /tmp (it once succeeded): the run's cgroup stops it."""
    limits = Limits(memory_bytes=256 << 20, nproc=16, fsize_bytes=1 << 30, disk_bytes=1 << 30)
    sub = write_sub("tmpfill", FILL, **{"where.txt": "/tmp", "mib.txt": "600"})
    _, run = run_sub(sub, Settings("bwrap", limits, 30.0, 1.0))
    assert run.status == "failed"
    assert _wrote(tmp_path / "l") < 256
    assert run.oom_killed
    assert json.loads((tmp_path / "l" / "run.json").read_text())["budget"].startswith("cgroup")


def test_four_children_share_one_memory_budget(
    write_sub: WriteSub, settings: Settings, run_sub: RunSub, tmp_path: Path
) -> None:
    """4 × 500 MB under a 1 GiB budget: each child is under RLIMIT_AS, the sum is not."""
    sub = write_sub("children", CHILDREN)
    _, run = run_sub(sub, dataclasses.replace(settings, time_limit=30.0))
    out = (tmp_path / "l" / "stdout.txt").read_text()
    assert out.count("held") < 4
    assert "children ok: 4" not in out
    assert run.oom_killed


def test_the_disk_budget_covers_the_whole_output(
    write_sub: WriteSub, settings: Settings, run_sub: RunSub, tmp_path: Path
) -> None:
    """Many files each under RLIMIT_FSIZE: the run's tmpfs (64 MiB here) ends it with ENOSPC."""
    limits = dataclasses.replace(settings.limits, disk_bytes=64 << 20)
    sub = write_sub("diskfill", FILL, **{"where.txt": "/output_images", "mib.txt": "200"})
    _, run = run_sub(sub, Settings("bwrap", limits, 30.0, 1.0))
    assert run.status == "failed"
    assert "No space left on device" in run.stderr_tail
    assert _wrote(tmp_path / "l") < 64


def test_without_a_cgroup_tmp_is_sized(
    write_sub: WriteSub, settings: Settings, run_sub: RunSub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weaker fallback: bubblewrap's /tmp holds a quarter of the memory budget."""
    from advengine.submissions import runner, sandbox

    monkeypatch.setattr(runner, "cgroup_support", lambda: None)
    monkeypatch.setattr(sandbox, "mount_tmpfs", _no_mount)
    limits = Limits(memory_bytes=256 << 20, nproc=16, fsize_bytes=1 << 30, disk_bytes=1 << 30)
    sub = write_sub("tmpfill", FILL, **{"where.txt": "/tmp", "mib.txt": "600"})
    _, run = run_sub(sub, Settings("bwrap", limits, 30.0, 1.0))
    assert run.status == "failed"
    assert "No space left on device" in run.stderr_tail
    assert _wrote(tmp_path / "l") <= 64
    assert "weaker" in run.budget


def _no_mount(target: Path, size: int) -> None:
    raise PermissionError(1, "not permitted", str(target))


def test_a_v2_cgroup_is_made_below_a_delegated_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cgroup v2 is not mounted with controllers on the development machine: the discovery and the
    files written are checked against a fake hierarchy (plain files in place of cgroupfs)."""
    from advengine.submissions import budget

    parent = tmp_path / "cg" / "user.slice" / "advengine.scope"
    parent.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text("cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text("\n")
    monkeypatch.setattr(budget, "_mounts", lambda: [("/", str(tmp_path / "cg"), "cgroup2", "rw")])
    monkeypatch.setattr(budget, "_own_paths", lambda: {"": "/user.slice/advengine.scope"})
    monkeypatch.setattr(budget, "register", lambda *a, **k: None)
    monkeypatch.setattr(budget, "release", lambda *a: None)

    def fake_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        os.makedirs(self)
        (self / "memory.swap.max").write_text("max\n")
        (self / "cgroup.procs").write_text("")

    monkeypatch.setattr(Path, "mkdir", fake_mkdir)
    group = make_cgroup("v2", 256 << 20, 12)
    (d,) = group.dirs
    assert d.parent == parent
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (d / "memory.max").read_text() == str(256 << 20)
    assert (d / "memory.swap.max").read_text() == "0"
    assert (d / "pids.max").read_text() == "12"
