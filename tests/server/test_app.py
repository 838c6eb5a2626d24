"""A hostile client against the API: no token, a wrong token, another team's token on its logs;
path traversal in multipart file names; the per-team daily quota; an upload over the size limit;
50 concurrent uploads. Tokens and uploads never reach the logs."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.server.harness import sample_archive, script_archive
from tests.server.test_evaluator import post, settle

from advengine.server import ServerSettings, create_app
from advengine.server.db import Submission
from advengine.server.teams import add_team

NOOP = sample_archive("noop_attack")


def _client(settings: ServerSettings, **changes: object) -> TestClient:
    return TestClient(create_app(dataclasses.replace(settings, **changes), evaluate=False))


def test_writes_need_a_team_token(settings: ServerSettings) -> None:
    with _client(settings) as client:
        files = {"file": ("noop.tar.gz", NOOP)}
        assert client.post("/api/submissions", data={"track": "attack"}, files=files).status_code == 401
        wrong = {"Authorization": "Bearer not-a-token"}
        r = client.post("/api/submissions", headers=wrong, data={"track": "attack"}, files=files)
        assert r.status_code == 401
        assert "team token" in r.json()["detail"]
        organiser = {"Authorization": f"Bearer {client.app.state.server.organiser_token}"}  # type: ignore[attr-defined]
        assert (
            client.post(
                "/api/submissions", headers=organiser, data={"track": "attack"}, files=files
            ).status_code
            == 403
        )
        # Reading the public leaderboard needs none.
        assert client.get("/api/leaderboard").status_code == 200


def test_logs_are_only_for_the_own_team_and_the_organiser(settings: ServerSettings) -> None:
    with _client(settings) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        _, alpha = add_team(server.sessions, "alpha")
        _, beta = add_team(server.sessions, "beta")
        sub = post(client, alpha, "noop.tar.gz", NOOP, "attack")
        settle(client)
        path = f"/api/submissions/{sub['id']}"
        assert "logs_tail" in client.get(path, headers={"Authorization": f"Bearer {alpha}"}).json()
        assert (
            "noop: copied images"
            in client.get(path, headers={"Authorization": f"Bearer {alpha}"}).json()["logs_tail"]
        )
        organiser = server.organiser_token
        assert "logs_tail" in client.get(path, headers={"Authorization": f"Bearer {organiser}"}).json()
        for headers in ({"Authorization": f"Bearer {beta}"}, {"Authorization": "Bearer nope"}, {}):
            body = client.get(path, headers=headers).json()
            assert body["state"] == "done"
            assert "logs_tail" not in body
        # The page of the submission shows no logs to another team either.
        client.cookies.set("advengine_token", beta)
        assert "noop: copied images" not in client.get(f"/submissions/{sub['id']}").text
        client.cookies.set("advengine_token", alpha)
        assert "noop: copied images" in client.get(f"/submissions/{sub['id']}").text


@pytest.mark.parametrize(
    "name", ["../../evil.tar.gz", "a/b.tar.gz", "..\\evil.tar.gz", "/etc/evil.tar.gz", "C:\\x\\e.zip", ".."]
)
def test_path_traversal_in_file_names_is_refused(settings: ServerSettings, name: str) -> None:
    with _client(settings) as client:
        _, alpha = add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
        r = post(client, alpha, name, NOOP, "attack")
        if name.startswith("C:"):
            # The multipart parser already keeps only the last part of a Windows path ("e.zip"), which
            # then fails as an archive (it is a .tar.gz): refused either way, and stored only in blobs/.
            assert r["status_code"] == 422
        else:
            assert r["status_code"] == 400
            assert "file name" in r["detail"] or "not an archive" in r["detail"]
    assert list(settings.state.parent.rglob("*evil*")) == []
    outside = [p for p in settings.state.rglob("*") if p.is_file() and "blobs" not in p.parts]
    assert all(
        p.name in ("advengine.db", "advengine.db-wal", "advengine.db-shm", "organiser-token") for p in outside
    )


def test_the_daily_quota_counts_the_teams_submissions_not_rejections(settings: ServerSettings) -> None:
    with _client(settings, daily_quota=2) as client:
        _, alpha = add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
        assert post(client, alpha, "bad.tar.gz", b"not an archive", "attack")["status_code"] == 422
        assert post(client, alpha, "one.tar.gz", NOOP, "attack")["status_code"] == 202
        assert post(client, alpha, "two.tar.gz", NOOP, "attack")["status_code"] == 202
        third = post(client, alpha, "three.tar.gz", NOOP, "attack")
        assert third["status_code"] == 429
        assert "quota of 2" in third["detail"]


def test_an_upload_over_the_size_limit_is_refused(settings: ServerSettings) -> None:
    with _client(settings, max_upload=4096) as client:
        _, alpha = add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
        big = post(client, alpha, "big.tar.gz", b"x" * (1 << 20), "attack")
        assert big["status_code"] == 413
        assert "size limit" in big["detail"]
    assert [p for p in (settings.state / "blobs").rglob("*") if p.is_file()] == []


def test_50_concurrent_uploads_are_each_answered_and_recorded_once(
    settings: ServerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(settings, daily_quota=100) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        tokens = [add_team(server.sessions, f"team{k}")[1] for k in range(5)]
        broken = script_archive("x")[:-20]  # a truncated archive: rejected before any dry run

        def one(k: int) -> int:
            data = NOOP if k % 10 == 0 else broken
            return int(post(client, tokens[k % 5], f"s{k}.tar.gz", data, "attack")["status_code"])

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(one, range(50)))
        assert sorted(codes) == [202] * 5 + [422] * 45
        with server.sessions() as s:
            subs = s.scalars(select(Submission)).all()
        assert len(subs) == 50
        assert len({s.name for s in subs}) == 50
    for token in tokens:
        assert token not in caplog.text
    assert "noop.py" not in caplog.text


def test_unknown_rounds_and_tracks_are_one_line_refusals(settings: ServerSettings, tmp_path: Path) -> None:
    with _client(settings) as client:
        _, alpha = add_team(client.app.state.server.sessions, "alpha")  # type: ignore[attr-defined]
        assert post(client, alpha, "a.tar.gz", NOOP, "sideways")["status_code"] == 400
        r = client.post(
            "/api/submissions",
            headers={"Authorization": f"Bearer {alpha}"},
            data={"track": "attack", "round": "nope"},
            files={"file": ("a.tar.gz", NOOP)},
        )
        assert r.status_code == 404
        assert client.get("/api/leaderboard?round=nope").status_code == 404
        assert client.get("/api/submissions/999").status_code == 404


def test_the_api_is_described_at_docs(settings: ServerSettings) -> None:
    with _client(settings) as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    assert {
        "/api/leaderboard",
        "/api/submissions",
        "/api/submissions/{sub_id}",
        "/api/queue",
        "/api/rounds/{round_name}/close",
        "/api/rounds/{round_name}/released",
    } <= set(spec["paths"])
    assert not any(p.startswith("/team") for p in spec["paths"])  # the pages stay out of the API
