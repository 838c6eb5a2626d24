"""``advengine serve`` as a real process: it prints the URL and the organiser token's path, takes
an upload from ``advengine submit --wait``, and after ``kill -9`` in the middle of an evaluation and a
restart it resumes the work and ends with the scores of an uninterrupted run."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import tiny_config
from tests.server.harness import (
    Served,
    add_team,
    cli,
    free_port,
    script_archive,
    slow_script,
    submit,
    tiny_toml,
)
from tests.server.test_evaluator import post, scores, settle

from advengine.server import ServerSettings, create_app
from advengine.server import teams as server_teams

#: An attack slow enough (3 s a batch) for the server to be killed in the middle of it.
SLOW = slow_script(3)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml())
    s = Served(config, tmp_path / "state", "--sandbox", "bwrap")
    yield s
    s.stop()


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
    token = add_team(served.state, "alpha")
    served.start()
    time.sleep(1.0)
    out = served.log.read_text()
    assert served.url in out
    assert str(served.state / "organiser-token") in out
    archive = tmp_path / "slow.tar.gz"
    archive.write_bytes(script_archive(SLOW))
    result = cli(
        "submit", str(archive), "--server", served.url, "--token", token, "--track", "attack", "--wait"
    )
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
    board = served.get("/api/leaderboard")
    assert "alpha.slow" in [e["name"] for e in board["attacks"]]
    # A wrong track is refused at once with the reason, and --wait exits non-zero.
    result = cli(
        "submit", str(archive), "--server", served.url, "--token", token, "--track", "defense", "--wait"
    )
    assert result.returncode == 1
    assert "rejected" in result.stderr
    assert token not in served.log.read_text()  # tokens never in the log


def test_kill_9_and_restart_resume_and_score_as_an_uninterrupted_run(served: Served, tmp_path: Path) -> None:
    token = add_team(served.state, "alpha")
    archive = script_archive(SLOW)
    served.start()
    r = submit(served.url, token, "slow.tar.gz", archive)
    assert r.status_code == 202, r.text
    sub_id = r.json()["id"]
    _wait(served, sub_id, token, ("running",))
    deadline = time.monotonic() + 120
    while served.get("/api/queue")["rounds"][0]["pieces"]["running"] == 0:  # its first piece's lease
        assert time.monotonic() < deadline, served.log.read_text()
        time.sleep(0.1)
    time.sleep(1.0)  # inside the first slow batch (3 s, after the worker's start)
    served.kill9()
    served.start()
    done = _wait(served, sub_id, token, ("done", "failed"))
    assert done["state"] == "done", done
    assert done["charged"] is True  # the restart was the platform's: nothing failed, nothing extra
    pieces = served.get("/api/queue")["rounds"][0]["pieces"]
    assert pieces["requeued"] >= 1  # the piece that was running when the server died
    assert pieces["queued"] == pieces["running"] == 0
    board = served.get("/api/leaderboard")
    served.stop()
    # The same upload on a server that was never interrupted.
    settings = ServerSettings(config=tiny_config(), state=tmp_path / "calm", sandbox="bwrap")
    with TestClient(create_app(settings, evaluate=False)) as client:
        _, calm = server_teams.add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
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
    port = free_port()
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
    done = cli("serve", "--state", str(tmp_path), "--ray-address", "auto")
    assert done.returncode == 1
    assert "--ray-address needs --executor ray" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("serve", "--config", str(tmp_path / "missing.toml"), "--state", str(tmp_path))
    assert done.returncode == 1
    assert "no such config file" in done.stderr
