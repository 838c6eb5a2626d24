"""Incremental evaluation: after a sequence of uploads, including a replacement, a rejected upload
and a submission that fails in evaluation, the leaderboard equals ``advengine eval`` on the final
roster, record for record and score for score; and only new work runs."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.server.conftest import FRAGILE, tiny_config
from tests.server.harness import sample_archive, script_archive, tiny_toml
from typer.testing import CliRunner

from advengine.cli import app as cli_app
from advengine.competition.artefacts import read_json
from advengine.errors import ConfigError
from advengine.server import ServerSettings, create_app
from advengine.server.db import Piece, RoundLease, Submission, now
from advengine.server.roster import live
from advengine.server.teams import add_team


def settle(client: TestClient) -> int:
    """Run evaluation passes until no round is dirty; returns how many ran."""
    passes = 0
    while client.app.state.evaluator.step():  # type: ignore[attr-defined]
        passes += 1
    return passes


def post(client: TestClient, token: str, name: str, data: bytes, track: str) -> dict[str, Any]:
    r = client.post(
        "/api/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"track": track},
        files={"file": (name, data)},
    )
    body: dict[str, Any] = r.json()
    body["status_code"] = r.status_code
    return body


def records(run: Path) -> dict[str, Any]:
    """Every piece record of a run dir, without its timing and its HMAC (each run has its own key)."""
    out = {}
    for p in sorted((run / "pieces").rglob("*.json")):
        rec = read_json(p)
        rec.pop("seconds", None)
        rec.pop("hmac", None)
        out[str(p.relative_to(run))] = rec
    return out


def scores(board: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "team", "score", "raw_score", "normalized_score", "worst_score", "pieces", "excluded")
    return {
        track: sorted(({k: e.get(k) for k in keep} for e in board[track]), key=lambda e: e["name"])
        for track in ("attacks", "targeted_attacks", "defenses")
    }


def test_the_leaderboard_equals_eval_on_the_final_roster(settings: ServerSettings, tmp_path: Path) -> None:
    with TestClient(create_app(settings, evaluate=False)) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        _, alpha = add_team(server.sessions, "alpha")
        _, beta = add_team(server.sessions, "beta")
        settle(client)  # the baselines alone
        first = post(client, alpha, "rn.tar.gz", sample_archive("random_noise_attack"), "attack")
        assert first["status_code"] == 202, first
        settle(client)
        assert client.get(f"/api/submissions/{first['id']}").json()["state"] == "done"
        toy = post(client, beta, "toy.tar.gz", sample_archive("defense"), "defense")
        settle(client)
        toy_state = client.get(f"/api/submissions/{toy['id']}").json()
        assert toy_state["state"] == "done"
        # baselines + alpha.rn as attacks, 2 batches each; clean too: 3 x 2 pieces.
        assert (toy_state["pieces_done"], toy_state["pieces_total"]) == (6, 6)
        run = server.settings.state / "rounds" / "main"
        before = records(run)
        # A replacement: same name, other content (the noop sample).
        post(client, alpha, "rn.tar.gz", sample_archive("noop_attack"), "attack")
        settle(client)
        assert client.get(f"/api/submissions/{first['id']}").json()["replaced"] is True
        after = records(run)
        # Only the replaced attack's pieces and the defense pieces on its images were redone.
        changed = {k for k in after if after[k] != before.get(k)}
        assert changed
        assert all("alpha.rn" in k for k in changed)
        # A rejected upload (its dry run fails at once) and a submission that fails in evaluation.
        bad = post(client, beta, "boom.tar.gz", script_archive("import sys; sys.exit(3)"), "attack")
        assert bad["status_code"] == 422
        assert "rejected" in bad["detail"]
        fragile = post(client, beta, "fragile.tar.gz", script_archive(FRAGILE), "attack")
        assert fragile["status_code"] == 202, fragile
        settle(client)
        failed = client.get(f"/api/submissions/{fragile['id']}", headers={"Authorization": f"Bearer {beta}"})
        assert failed.json()["state"] == "failed"
        assert "fragile" in failed.json()["reason"] or "exit" in failed.json()["reason"]
        assert "fragile: only knows eps 16" in failed.json()["logs_tail"]
        board = client.get("/api/leaderboard").json()
        final_records = records(run)
        with server.sessions() as s:
            paths = {sub.label: server.settings.state / sub.blob for sub in live(s, "main")}
    names = {e["name"] for track in ("attacks", "defenses") for e in board[track]}
    assert names == {"noop", "alpha.rn", "base-lite0", "beta.toy"}  # the failed one left the roster
    # The same roster through `advengine eval`.
    toml = tmp_path / "final.toml"
    toml.write_text(
        tiny_toml(
            "".join(
                f'[[submissions]]\npath = "{paths[label]}"\nlabel = "{label}"\n'
                f'team = "{label.split(".")[0]}"\nsandbox = "bwrap"\n'
                for label in ("alpha.rn", "beta.toy")
            )
        )
    )
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli_app, ["eval", "--config", str(toml), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    expected = json.loads((out / "results.json").read_text())
    eval_board = {
        "attacks": [e for e in expected["attacks"] if e["track"] == "nontargeted"],
        "targeted_attacks": [e for e in expected["attacks"] if e["track"] == "targeted"],
        "defenses": expected["defenses"],
    }
    assert scores(board) == scores(eval_board)
    assert {k: v for k, v in final_records.items() if "fragile" not in k} == records(out)


def pieces(server: Any) -> dict[str, tuple[str, int, int]]:
    """The round's piece leases: key → (state, attempts, losses)."""
    with server.sessions() as s:
        return {p.piece: (p.state, p.attempts, p.lost) for p in s.scalars(select(Piece))}


def test_a_piece_whose_worker_died_runs_again_once(settings: ServerSettings, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    cfg = tiny_config(
        plugins=["tests.server.plugins"],
        attacks=[
            {"name": "die-once", "params": {"marker": str(marker)}},
            {"name": "fake-exit", "label": "always-dies"},
        ],
    )
    with TestClient(create_app(dataclasses.replace(settings, config=cfg), evaluate=False)) as client:
        assert settle(client) == 1  # the lost pieces ran again within the pass
        board = client.get("/api/leaderboard").json()
        rows = pieces(client.app.state.server)  # type: ignore[attr-defined]
        queue = client.get("/api/queue").json()
    assert marker.is_file()
    by = {e["name"]: e for e in board["attacks"]}
    assert by["die-once"]["pieces"].get("crashed", 0) == 0  # its lost piece ran again and passed
    assert by["always-dies"]["pieces"]["crashed"] == 2  # died twice: recorded as its own crash
    assert rows["attack/die-once/b0000"] == ("done", 2, 1)
    assert rows["attack/die-once/b0001"] == ("done", 1, 0)
    assert rows["attack/always-dies/b0000"] == rows["attack/always-dies/b0001"] == ("failed", 2, 2)
    assert queue["rounds"][0]["pieces"]["requeued"] == 5


def left_running(server: Any, sub_id: int, owner: str, heartbeat_at: datetime) -> str:
    """The state an evaluator ``owner`` leaves when it dies in the middle of alpha.rn's first piece:
    the round and the piece leased to it, the submission running. Returns the piece's key."""
    key = "attack/alpha.rn/b0000"
    with server.sessions.begin() as s:
        s.get(Submission, sub_id).state = "running"
        s.execute(update(RoundLease).values(owner=owner, heartbeat_at=heartbeat_at, dirty=False))
        lease = {"owner": owner, "heartbeat_at": heartbeat_at, "attempts": 1, "lost": 0}
        s.add(Piece(round="main", piece=key, entry="alpha.rn", state="running", **lease))
    return key


def test_a_piece_whose_heartbeat_went_stale_is_requeued_and_run(settings: ServerSettings) -> None:
    """Another evaluator of this database claimed the round and a piece, then stopped beating (its
    server died without a restart of this one): the piece is queued again and run, and the
    submission ends done, its quota untouched."""
    with TestClient(create_app(settings, evaluate=False)) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        _, alpha = add_team(server.sessions, "alpha")
        settle(client)  # the baselines
        sub = post(client, alpha, "rn.tar.gz", sample_archive("noop_attack"), "attack")
        long_ago = now() - timedelta(seconds=settings.lease_seconds * 3)
        key = left_running(server, sub["id"], "gone", long_ago)
        assert settle(client) == 1
        body = client.get(f"/api/submissions/{sub['id']}").json()
        rows = pieces(server)
        board = client.get("/api/leaderboard").json()
    assert (body["state"], body["charged"]) == ("done", True)
    assert rows[key] == ("done", 2, 1)  # re-queued once (the loss counted), then run by this one
    assert rows["attack/alpha.rn/b0001"] == ("done", 1, 0)
    assert "alpha.rn" in {e["name"] for e in board["attacks"]}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConfigError("no worker can start on this machine"), "platform: no worker can start on this machine"),
        (RuntimeError("a bug"), "platform: internal error (RuntimeError); the organiser has the log"),
    ],
)
def test_a_platform_failure_ends_the_submission_uncharged(
    settings: ServerSettings, error: Exception, reason: str
) -> None:
    with TestClient(create_app(settings, evaluate=False)) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        _, alpha = add_team(server.sessions, "alpha")
        sub = post(client, alpha, "rn.tar.gz", sample_archive("noop_attack"), "attack")
        evaluator = client.app.state.evaluator  # type: ignore[attr-defined]

        def broken(cfg: object) -> object:
            raise error

        evaluator.executor_factory = broken
        settle(client)
        body = client.get(f"/api/submissions/{sub['id']}").json()
    assert body["state"] == "failed"
    assert body["reason"] == reason
    assert body["charged"] is False  # the platform's failure costs the team nothing
    assert [t.name for t in threading.enumerate() if t.name.startswith("advengine-heartbeat")] == []


def test_a_restart_queues_running_work_again(settings: ServerSettings) -> None:
    app = create_app(settings, evaluate=False)
    server = app.state.server
    _, alpha = add_team(server.sessions, "alpha")
    with TestClient(app) as client:
        sub = post(client, alpha, "rn.tar.gz", sample_archive("noop_attack"), "attack")
    key = left_running(server, sub["id"], "dead", now())  # as a killed server leaves it
    with TestClient(create_app(settings, evaluate=False)) as client:
        body = client.get(f"/api/submissions/{sub['id']}").json()
        assert body["state"] == "queued"
        assert body["charged"] is True
        queue = client.get("/api/queue").json()
        assert queue["rounds"] == [
            {
                "name": "main",
                "dirty": True,
                "evaluating": False,
                "heartbeat_at": None,
                "scored_at": None,
                "mode": "code",
                "attack_closed": False,
                # Its running piece is queued again at once, though its heartbeat is fresh: one
                # server serves one database, so a piece running at its start has no evaluator.
                "pieces": {"queued": 1, "running": 0, "done": 0, "failed": 0, "requeued": 1},
            }
        ]
        settle(client)
        assert client.get(f"/api/submissions/{sub['id']}").json()["state"] == "done"
        assert pieces(server)[key] == ("done", 2, 1)
