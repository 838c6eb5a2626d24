from __future__ import annotations

import sys
from pathlib import Path

import pytest

from advengine.errors import SandboxError
from advengine.submissions import sandbox
from advengine.submissions.sandbox import Limits, Mounts, bwrap_command, docker_command, resolve_sandbox

MOUNTS = Mounts(Path("/s/code"), Path("/s/in"), Path("/s/out"), "/output_images")
LIMITS = Limits(memory_bytes=1 << 30, nproc=32, fsize_bytes=1 << 20)


def _pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def test_bwrap_command_confines_the_run() -> None:
    cmd = bwrap_command(
        MOUNTS, ["./run.sh", "/input_images", "/output_images", "8"], LIMITS, as_root=False, uid=1
    )
    argv = cmd.argv
    # No cgroup: bwrap's /tmp takes a quarter of the memory budget, RLIMIT_AS the rest per process.
    assert argv[:5] == ["prlimit", f"--as={3 << 28}", "--nproc=32", f"--fsize={1 << 20}", "--"]
    assert argv[argv.index("--tmpfs") - 2 : argv.index("--tmpfs") + 2] == [
        "--size",
        str(1 << 28),
        "--tmpfs",
        "/tmp",
    ]
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv", "--unshare-user"):
        assert flag in argv
    assert ("/s/code", "/code") in _pairs(argv, "--ro-bind")
    assert ("/s/in", "/input_images") in _pairs(argv, "--ro-bind")
    assert _pairs(argv, "--bind") == [("/s/out", "/output_images")]  # the only writable host path
    assert argv[argv.index("--remount-ro") + 1] == "/"
    assert argv[argv.index("--chdir") + 1] == "/code"
    assert argv[-4:] == ["./run.sh", "/input_images", "/output_images", "8"]
    assert cmd.chown_to is None


def test_bwrap_with_a_cgroup_and_a_host_tmp() -> None:
    mounts = Mounts(Path("/s/code"), Path("/s/in"), Path("/s/rw/out"), "/output_images", Path("/s/rw/tmp"))
    argv = bwrap_command(mounts, ["./run.sh"], LIMITS, as_root=False, uid=1, cgroup=True).argv
    assert argv[1] == f"--as={1 << 30}"  # the cgroup bounds the sum; one process may use it all
    assert _pairs(argv, "--bind") == [("/s/rw/tmp", "/tmp"), ("/s/rw/out", "/output_images")]
    assert "--tmpfs" not in argv


def test_bwrap_binds_only_the_allow_list(tmp_path: Path) -> None:
    package = tmp_path / "pylib" / "advengine"
    package.mkdir(parents=True)
    argv = bwrap_command(MOUNTS, ["./run.sh"], LIMITS, as_root=False, uid=1, package=package).argv
    sources = {src for src, _ in _pairs(argv, "--ro-bind")}
    repo = Path(__file__).resolve().parents[2]
    # Not the checkout (the working dir, PYTHONPATH, the editable install's path), not the cwd; the one
    # part of it that may be bound is a venv inside it (CI's .venv), which holds the interpreter.
    venv = Path(sys.prefix).resolve()
    inside = [Path(s) for s in sources if s == str(repo) or s.startswith(str(repo) + "/")]
    assert all(p == venv or venv in p.parents for p in inside)
    assert not any(Path.cwd().resolve() == Path(s) for s in sources)
    assert (str(package), "/pylib/advengine") in _pairs(argv, "--ro-bind")
    assert ("PYTHONPATH", "/pylib") in _pairs(argv, "--setenv")


def test_bwrap_as_root_drops_to_an_unprivileged_uid() -> None:
    argv = bwrap_command(MOUNTS, ["./run.sh"], LIMITS, as_root=True, uid=201234).argv
    i = argv.index("setpriv")
    assert argv[i : i + 4] == ["setpriv", "--reuid=201234", "--regid=201234", "--clear-groups"]
    assert "--unshare-user" not in argv
    assert bwrap_command(MOUNTS, ["./run.sh"], LIMITS, as_root=True, uid=201234).chown_to == 201234


def test_docker_command_uses_the_image_with_no_network_and_the_limits() -> None:
    argv = docker_command(
        MOUNTS, ["./run.sh", "/input_images", "/output_images", "4"], LIMITS, "tf:1.1", "n"
    ).argv
    text = " ".join(argv)
    assert argv[:3] == ["docker", "run", "--rm"]
    for part in (
        "--network none",
        f"--memory {1 << 30}",
        "--pids-limit 32",
        "--ulimit nproc=32:32",
        f"--ulimit fsize={1 << 20}:{1 << 20}",
        "--read-only",
        "-v /s/code:/code:ro",
        "-v /s/in:/input_images:ro",
        "-v /s/out:/output_images:rw",
        "-w /code tf:1.1 ./run.sh /input_images /output_images 4",
    ):
        assert part in text


def test_docker_gpus_use_container_gpu() -> None:
    image = sandbox.docker_image("tf:1.1", "tf:1.1-gpu", "all")
    argv = docker_command(MOUNTS, ["./run.sh"], LIMITS, image, "n", gpus="all").argv
    assert argv[argv.index("--gpus") + 1] == "all"
    assert argv[argv.index("-w") + 2] == "tf:1.1-gpu"
    assert f"/tmp:rw,size={LIMITS.disk_bytes}" in argv
    assert sandbox.docker_image("tf:1.1", None, "all") == "tf:1.1"  # no container_gpu: the CPU image
    assert sandbox.docker_image("tf:1.1", "tf:1.1-gpu", None) == "tf:1.1"
    assert "--gpus" not in docker_command(MOUNTS, ["./run.sh"], LIMITS, "tf:1.1", "n").argv


def test_resolve_sandbox_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_sandbox("unsafe-none") == "unsafe-none"
    with pytest.raises(SandboxError, match="must be one of"):
        resolve_sandbox("chroot")
    # This machine must be able to sandbox: `make test` installs bubblewrap (sandbox-deps).
    assert sandbox.bwrap_status() is None
    monkeypatch.setattr(sandbox, "docker_status", lambda: "no engine")
    assert resolve_sandbox("auto") == "bwrap"
    with pytest.raises(SandboxError, match="'docker' is not available: no engine"):
        resolve_sandbox("docker")
    monkeypatch.setattr(sandbox, "bwrap_status", lambda: "bwrap not found")
    with pytest.raises(SandboxError, match=r"bwrap not found.*--unsafe-no-sandbox"):
        resolve_sandbox("auto")


def test_bwrap_status_reports_a_missing_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.bwrap_status.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        assert "bwrap" in (sandbox.bwrap_status() or "")
    finally:
        sandbox.bwrap_status.cache_clear()
