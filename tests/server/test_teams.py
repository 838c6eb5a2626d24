"""Teams and tokens: a token is shown once and only its hash is stored; callers are told apart by
their token (organiser, team, nobody). On both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from advengine.errors import ConfigError
from advengine.server.app import open_db
from advengine.server.db import Team
from advengine.server.teams import add_team, identify, list_teams
from advengine.server.tokens import token_hash


def test_a_team_gets_a_token_and_only_its_hash_is_stored(tmp_path: Path, db_url: str | None) -> None:
    sessions = open_db(tmp_path, db_url)
    team, token = add_team(sessions, "alpha")
    with sessions() as s:
        stored = s.scalars(select(Team)).one()
    assert stored.token_hash == token_hash(token) != token
    assert token not in (tmp_path / "advengine.db").read_bytes().decode("latin-1") if db_url is None else True
    assert [t["name"] for t in list_teams(sessions)] == ["alpha"]
    assert identify(sessions, token, "org").team_id == team.id
    assert identify(sessions, "org", "org").organiser
    assert identify(sessions, "wrong", "org").team_id is None
    assert identify(sessions, None, "org") == identify(sessions, "", "org")


def test_duplicate_and_bad_team_names_are_one_line_errors(tmp_path: Path, db_url: str | None) -> None:
    sessions = open_db(tmp_path, db_url)
    add_team(sessions, "alpha")
    with pytest.raises(ConfigError, match="already exists"):
        add_team(sessions, "alpha")
    for bad in ("", "a.b", "../x", "x" * 33):
        with pytest.raises(ConfigError, match="team name"):
            add_team(sessions, bad)
