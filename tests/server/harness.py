"""What the server's tests and its benchmark (benches/bench_server.py) both need, once: a throwaway
PostgreSQL cluster of Debian's binaries, a free port, the tiny competition as a file, submission
archives, and ``advengine serve`` as a real process with its uploads. Plain functions and classes,
no pytest: the benchmark imports this module too."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SAMPLES = Path(__file__).resolve().parents[1] / "submissions" / "samples"
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))

#: Four sample images in two batches (ε 4 and 8), the noop attack and one classifier defense as the
#: organiser's baselines; ``{limit}``, ``{batch_size}`` and ``{time_limit}`` are filled in.
_TINY = """batch_size = {batch_size}
time_limit = {time_limit}
[dataset]
limit = {limit}
[[attacks]]
name = "noop"
baseline = true
[[defenses]]
name = "classifier"
label = "base-lite0"
models = ["efficientnet-lite0"]
baseline = true
"""


def tiny_toml(extra: str = "", *, limit: int = 4, batch_size: int = 2, time_limit: float = 60.0) -> str:
    """The tiny competition as a TOML file's text, with ``extra`` (more ``[[attacks]]``,
    ``[[submissions]]`` …) appended."""
    return _TINY.format(limit=limit, batch_size=batch_size, time_limit=time_limit) + extra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tar_gz(files: dict[str, bytes | str], modes: dict[str, int] | None = None) -> bytes:
    """A .tar.gz of ``files`` (name → content), each with its mode in ``modes`` (default 0o755)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (modes or {}).get(name, 0o755)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sample_archive(sample: str, **extra: str) -> bytes:
    """``tests/submissions/samples/<sample>`` as .tar.gz bytes (modes kept), ``extra`` files added."""
    found = sorted((SAMPLES / sample).iterdir())
    files: dict[str, bytes | str] = {f.name: f.read_bytes() for f in found}
    return tar_gz({**files, **extra}, {f.name: f.stat().st_mode & 0o777 for f in found})


def script_archive(script: str, kind: str = "attack") -> bytes:
    """An archive whose entry point is ``main.py`` (Python run by the sandbox's python3)."""
    meta = {"type": kind, "container": "c", "container_gpu": "g", "entry_point": "main.py"}
    return tar_gz({"metadata.json": json.dumps(meta), "main.py": "#!/usr/bin/env python3\n" + script})


def slow_script(seconds: float, *, busy: bool = False) -> str:
    """An attack that takes ``seconds`` a batch (asleep, or ``busy`` computing on one core), then
    returns the clean images."""
    wait = (
        f"time.sleep({seconds})"
        if not busy
        else f"end = time.time() + {seconds}\nwhile time.time() < end: pass"
    )
    return f"""import glob, os, shutil, sys, time
inp, out = sys.argv[1], sys.argv[2]
{wait}
for p in glob.glob(os.path.join(inp, "*.png")):
    shutil.copy(p, os.path.join(out, os.path.basename(p)))
"""


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m advengine ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "advengine", *args], capture_output=True, text=True, timeout=600, check=check
    )


def add_team(state: Path, name: str, *db_args: str) -> str:
    """``advengine team add NAME --json``: the team's token."""
    result = cli("team", "add", name, "--state", str(state), *db_args, "--json")
    assert result.returncode == 0, result.stderr
    token: str = json.loads(result.stdout)["token"]
    return token


def submit(url: str, token: str, name: str, archive: bytes, track: str = "attack") -> httpx.Response:
    """``POST /api/submissions`` as a team's client sends it."""
    return httpx.post(
        f"{url}/api/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"track": track},
        files={"file": (name, archive)},
        timeout=300,
    )


class Served:
    """``advengine serve --config CONFIG --state STATE`` as a real process on a free port, its output
    in a log file beside the state dir."""

    def __init__(self, config: Path, state: Path, *args: str) -> None:
        self.config, self.state, self.args, self.port = config, state, args, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log = state.parent / "serve.log"

    def start(self) -> None:
        """Start it and wait until it answers."""
        argv = [sys.executable, "-m", "advengine", "serve", "--config", str(self.config)]
        argv += ["--state", str(self.state), "--port", str(self.port), *self.args]
        self.log = self.state.parent / f"serve-{time.monotonic_ns()}.log"
        with open(self.log, "w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(f"{self.url}/api/queue", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError(f"the server did not answer in time:\n{self.log.read_text()}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def get(self, path: str, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = httpx.get(f"{self.url}{path}", headers=headers, timeout=30).json()
        return body


def _as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)


class PgCluster:
    """A throwaway PostgreSQL cluster of Debian's binaries in a temp dir, on a unix socket only, run
    as the ``postgres`` OS user (root may not run it). A missing PostgreSQL is an error
    (``make postgres-deps`` installs it), never a skip."""

    _numbers = itertools.count()

    def __init__(self, *options: str) -> None:
        assert PG_BINS, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin); run `make postgres-deps`"
        self.bin = PG_BINS[-1]
        self.root = Path(tempfile.mkdtemp(prefix="advengine-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        data = str(self.root / "data")
        _as_postgres(str(self.bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        opts = " ".join((f"-k {self.root} -p {self.port} -c listen_addresses=''", *options))
        log = str(self.root / "log")
        _as_postgres(str(self.bin / "pg_ctl"), "-D", data, "-o", opts, "-l", log, "-w", "start")

    def database(self) -> str:
        """A new empty database in the cluster; its SQLAlchemy URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.root}&port={self.port}"

    def stop(self) -> None:
        _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
