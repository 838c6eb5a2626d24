"""Cleanup that cannot be skipped: temp dirs, mounts and cgroups go, and the sandbox dies, however the
engine ends (SIGTERM as the executor stops workers, SIGKILL, a timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.errors import SubmissionError
from advengine.submissions import Settings, load_submission, run_attack

from .conftest import WriteSub, processes_with

U8 = npt.NDArray[np.uint8]

#: A submission that fills /tmp a little (so there is something to leak), starts a child, ignores
#: SIGTERM and never ends; its processes carry a marker in their command lines.
HANG = r"""
import signal, subprocess, sys, time
marker = open("marker.txt").read().strip()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open("/tmp/ballast", "wb").write(b"z" * (20 << 20))
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", marker])
open(sys.argv[2] + "/started", "w").write("1")
print("started", flush=True)
while True:
    time.sleep(1)
"""

#: The engine: loads the submission and runs one batch, as a worker does.
ENGINE = r"""
import sys
from pathlib import Path
import numpy as np
from advengine.submissions import Settings, Limits, load_submission, run_attack
from advengine.submissions.reaper import temp_dir
sub = load_submission(Path(sys.argv[1]), temp_dir("advengine-subs-") / "s")
limits = Limits(memory_bytes=1 << 30, nproc=16, fsize_bytes=64 << 20, disk_bytes=256 << 20)
run_attack(sub, np.zeros((1, 299, 299, 3), np.uint8), 8, None, Settings("bwrap", limits, 300.0, 1.0))
"""


def _until(check: object, seconds: float = 20.0) -> bool:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


def _leftovers(tmpdir: Path) -> list[str]:
    mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [str(p) for p in tmpdir.iterdir()] + [m for m in mounted if m.startswith(str(tmpdir))]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_engine_dying_takes_its_sandbox_and_temp_dirs(
    sig: signal.Signals, write_sub: WriteSub, tmp_path: Path
) -> None:
    marker = f"advengine-orphan-{uuid.uuid4().hex}"
    sub = write_sub("hang", HANG, **{"marker.txt": marker})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, str(sub)], env=env)
    try:
        assert _until(lambda: len(processes_with(marker)) >= 1, 60.0), "the sandbox never started"
        assert any(tmpdir.glob("advengine-hang-*/rw/output/started")) or _until(
            lambda: any(tmpdir.glob("advengine-hang-*/rw/output/started")), 20.0
        )
        engine.send_signal(sig)
        engine.wait(20)
        assert _until(lambda: processes_with(marker) == []), "the sandbox outlived the engine"
        assert _until(lambda: _leftovers(tmpdir) == []), _leftovers(tmpdir)
        assert not any(Path("/sys/fs/cgroup").glob(f"**/advengine-{engine.pid}-*"))
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()


def test_a_timed_out_run_leaves_nothing(
    write_sub: WriteSub, settings: Settings, clean4: U8, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    marker = f"advengine-timeout-{uuid.uuid4().hex}"
    sub = load_submission(write_sub("hang", HANG, **{"marker.txt": marker}), tmp_path / "w")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    with pytest.raises(SubmissionError, match="killed after the 4 s time limit"):
        run_attack(sub, clean4, 8, None, settings)
    assert processes_with(marker) == []
    # The filtered advengine copy (advengine-pylib-*) lives as long as the process, by design.
    assert [p for p in _leftovers(tmpdir) if "advengine-pylib-" not in p] == []


def test_die_with_parent_arms_pdeathsig(tmp_path: Path) -> None:
    """A grandchild started with die_with_parent dies when its parent is killed."""
    marker = f"advengine-pdeath-{uuid.uuid4().hex}"
    parent_code = (
        "import subprocess, sys, time\n"
        "from advengine.submissions.reaper import die_with_parent\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)', {marker!r}],"
        " preexec_fn=die_with_parent)\n"
        "time.sleep(3600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        assert _until(lambda: len(processes_with(marker)) == 1, 30.0)
        parent.kill()
        parent.wait()
        assert _until(lambda: processes_with(marker) == [])
    finally:
        parent.kill()
        parent.wait()


def test_kill_9_of_advengine_eval_leaves_no_worker_or_sandbox(write_sub: WriteSub, tmp_path: Path) -> None:
    """Engine → worker (spawned from a thread) → bwrap → submission: every hop dies with the engine."""
    marker = f"advengine-eval-orphan-{uuid.uuid4().hex}"
    sub = write_sub("hang", HANG, **{"marker.txt": marker})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    argv = [sys.executable, "-m", "advengine", "eval", "--no-builtins", "--submission", str(sub)]
    argv += ["--workers", "1", "--limit", "1", "--batch-size", "1", "--time-limit", "300"]
    argv += ["--sandbox", "bwrap", "--out", str(tmp_path / "run"), "--json"]
    engine = subprocess.Popen(
        argv, env={**os.environ, "TMPDIR": str(tmpdir)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert _until(lambda: len(processes_with(marker)) >= 1, 120.0), "the sandbox never started"
        engine.kill()
        engine.wait()
        assert _until(lambda: processes_with(marker) == []), "the sandbox outlived the engine"
        # The worker (and its reaper, once done) inherited TMPDIR: none may be left.
        assert _until(lambda: processes_with(f"TMPDIR={tmpdir}", "environ") == []), "a worker outlived it"
        assert _until(lambda: [p for p in tmpdir.iterdir() if p.name.startswith("advengine-")] == [])
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
