"""``advengine serve`` as a real process: it prints the URL and the organiser token's path, takes
an upload from ``advengine submit --wait``, and after ``kill -9`` in the middle of an evaluation and a
restart it resumes the work and ends with the scores of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import script_archive, tiny_config
from tests.server.test_evaluator import post, scores, settle

from advengine.server import ServerSettings, create_app
from advengine.server.teams import add_team

TINY = """batch_size = 2
time_limit = 60.0
[dataset]
limit = 4
[[attacks]]
name = "noop"
baseline = true
[[defenses]]
name = "classifier"
label = "base-lite0"
models = ["efficientnet-lite0"]
baseline = true
"""

#: An attack slow enough (3 s a batch) for the server to be killed in the middle of it.
SLOW = """import glob, os, shutil, sys, time
inp, out = sys.argv[1], sys.argv[2]
time.sleep(3)
for p in glob.glob(os.path.join(inp, "*.png")):
    shutil.copy(p, os.path.join(out, os.path.basename(p)))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advengine", *args], capture_output=True, text=True, timeout=600, check=False
    )


class Served:
    def __init__(self, config: Path, state: Path) -> None:
        self.config, self.state, self.port = config, state, _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "advengine", "serve", "--config", str(self.config)]
        argv += ["--state", str(self.state), "--port", str(self.port), "--sandbox", "bwrap"]
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    s = Served(config, tmp_path / "state")
    yield s
    s.stop()


def _team(state: Path, name: str) -> str:
    result = _cli("team", "add", name, "--state", str(state), "--json")
    assert result.returncode == 0, result.stderr
    token: str = json.loads(result.stdout)["token"]
    return token


def _wait(
    served: Served, sub_id: int, token: str, until: tuple[str, ...], limit: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        body = served.get(f"/api/submissions/{sub_id}", token)
        if body["state"] in until:
            return body
        time.sleep(0.2)
    raise AssertionError(f"submission {sub_id} never reached {until}: {body}\n{served.log.read_text()}")


def test_serve_prints_where_it_is_and_submit_waits(served: Served, tmp_path: Path) -> None:
    token = _team(served.state, "alpha")
    served.start()
    time.sleep(1.0)
    out = served.log.read_text()
    assert served.url in out
    assert str(served.state / "organiser-token") in out
    archive = tmp_path / "slow.tar.gz"
    archive.write_bytes(script_archive(SLOW))
    result = _cli(
        "submit", str(archive), "--server", served.url, "--token", token, "--track", "attack", "--wait"
    )
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    board = served.get("/api/leaderboard")
    assert "alpha.slow" in [e["name"] for e in board["attacks"]]
    # A wrong track is refused at once with the reason, and --wait exits non-zero.
    result = _cli(
        "submit", str(archive), "--server", served.url, "--token", token, "--track", "defense", "--wait"
    )
    assert result.returncode == 1
    assert "rejected" in result.stderr
    assert token not in served.log.read_text()  # tokens never in the log


def test_kill_9_and_restart_resume_and_score_as_an_uninterrupted_run(served: Served, tmp_path: Path) -> None:
    token = _team(served.state, "alpha")
    archive = script_archive(SLOW)
    served.start()
    r = httpx.post(
        f"{served.url}/api/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"track": "attack"},
        files={"file": ("slow.tar.gz", archive)},
        timeout=120,
    )
    assert r.status_code == 202, r.text
    sub_id = r.json()["id"]
    _wait(served, sub_id, token, ("running",))
    time.sleep(2.0)  # inside the first slow batch
    served.kill9()
    served.start()
    done = _wait(served, sub_id, token, ("done", "failed"))
    assert done["state"] == "done", done
    assert done["charged"] is True  # the restart was the platform's: nothing failed, nothing extra
    board = served.get("/api/leaderboard")
    served.stop()
    # The same upload on a server that was never interrupted.
    settings = ServerSettings(config=tiny_config(), state=tmp_path / "calm", sandbox="bwrap")
    with TestClient(create_app(settings, evaluate=False)) as client:
        _, calm = add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
        assert post(client, calm, "slow.tar.gz", archive, "attack")["status_code"] == 202
        settle(client)
        expected = client.get("/api/leaderboard").json()
    assert scores(board) == scores(expected)


def test_the_cli_repeats_the_servers_defaults() -> None:
    from advengine.cli import serve
    from advengine.server import settings

    assert serve.DEFAULT_MAX_UPLOAD == settings.DEFAULT_MAX_UPLOAD
    assert serve.DEFAULT_DAILY_QUOTA == settings.DEFAULT_DAILY_QUOTA


def test_importing_the_cli_does_not_import_the_server() -> None:
    code = (
        "import sys, advengine.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('advengine.server', 'fastapi', 'sqlalchemy'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_serve_with_no_arguments_serves_the_demo(tmp_path: Path) -> None:
    """The demo: the default competition with its roster as the baselines, SQLite and the token in
    ./advengine-state. (Only --port is given: 8000 may be taken on a shared machine.)"""
    port = _port()
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "advengine", "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                queue = httpx.get(f"http://127.0.0.1:{port}/api/queue", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        token = tmp_path / "advengine-state" / "organiser-token"
        assert (token.stat().st_mode & 0o777) == 0o600
        assert (tmp_path / "advengine-state" / "advengine.db").is_file()
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        assert str(token) in text
        assert [r["name"] for r in queue["rounds"]] == ["main"]
        board = httpx.get(f"http://127.0.0.1:{port}/api/leaderboard", timeout=10).json()
        assert board["round"] == "main"
    finally:
        proc.terminate()
        proc.wait(60)


def test_serve_refuses_bad_flags_in_one_line(tmp_path: Path) -> None:
    done = _cli("serve", "--state", str(tmp_path), "--ray-address", "auto")
    assert done.returncode == 1
    assert "--ray-address needs --executor ray" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli("serve", "--config", str(tmp_path / "missing.toml"), "--state", str(tmp_path))
    assert done.returncode == 1
    assert "no such config file" in done.stderr
