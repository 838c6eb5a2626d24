"""The published leaderboard: built once per scoring (by the evaluator, as it writes results.json),
sent as the same bytes to every read, with an ETag that gives a poller 304 until the scores
change."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.server.test_evaluator import settle

from advengine.competition.artefacts import json_safe
from advengine.server import ServerSettings, board, create_app
from advengine.server.board import UNSCORED, Boards, UnknownRoundError


def test_reads_send_bytes_built_once_per_scoring_with_an_etag(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = board.build

    def counted(round_name: str, path: Path, version: str) -> board.Published:
        built.append(version)
        return real(round_name, path, version)

    monkeypatch.setattr(board, "build", counted)
    with TestClient(create_app(settings, evaluate=False)) as client:
        empty = client.get("/api/leaderboard")
        assert empty.status_code == 200
        assert empty.json()["scored"] is False
        assert empty.json()["version"] == UNSCORED
        settle(client)  # the baselines: the evaluator publishes each scoring as it writes it
        n_built = len(built)
        first = client.get("/api/leaderboard")
        for _ in range(20):
            assert client.get("/api/leaderboard").content == first.content
        assert len(built) == n_built  # no read built anything: the evaluator had
        body = first.json()
        assert body["scored"] is True
        assert {e["name"] for e in body["attacks"]} == {"noop"}
        assert first.headers["content-type"] == "application/json"
        etag = first.headers["etag"]
        assert etag == f'"main-{body["version"]}"'
        assert first.headers["cache-control"] == "no-cache"
        # A poller with the ETag gets 304 and no body until the scores change.
        again = client.get("/api/leaderboard", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert (
            client.get("/api/leaderboard", headers={"If-None-Match": '"main-old", ' + etag}).status_code
            == 304
        )
        assert client.get("/api/leaderboard", headers={"If-None-Match": '"main-old"'}).status_code == 200
        # results.json rewritten by anything (a restore from a backup): the next read notices.
        results = settings.state / "rounds" / "main" / "results.json"
        data = json.loads(results.read_text())
        data["attacks"][0]["score"] = 0.125
        tmp = results.with_suffix(".new")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, results)
        changed = client.get("/api/leaderboard", headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert changed.json()["attacks"][0]["score"] == 0.125
        # The page is rendered once per version as well, and shows the same version.
        page = client.get("/leaderboard")
        assert f'data-version="{changed.json()["version"]}"' in page.text


def test_scores_that_are_no_numbers_are_null_and_rounds_are_checked(settings: ServerSettings) -> None:
    boards = Boards(settings)
    with pytest.raises(UnknownRoundError, match="no round 'nope'; rounds: main"):
        boards.get("nope")
    assert boards.round_name(None) == "main"
    assert json_safe({"a": [math.nan, 1.5, {"b": math.inf}]}) == {"a": [None, 1.5, {"b": None}]}
