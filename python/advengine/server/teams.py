"""Teams and their tokens (``advengine team add/list``), and who a bearer token belongs to."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from advengine.errors import ConfigError
from advengine.server.db import Team
from advengine.server.tokens import new_token, same, token_hash

#: Team names become part of roster labels (``<team>.<submission>``), so no dots.
TEAM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def add_team(sessions: sessionmaker[Session], name: str) -> tuple[Team, str]:
    """Create team ``name``; returns it and its token (shown once: only its hash is stored)."""
    if not TEAM_PATTERN.match(name):
        raise ConfigError(
            f"team name {name!r} must be 1-32 letters, digits, '_' or '-' (starting with a letter or digit)"
        )
    token = new_token()
    team = Team(name=name, token_hash=token_hash(token))
    try:
        with sessions.begin() as s:
            s.add(team)
    except IntegrityError:
        raise ConfigError(f"team {name!r} already exists; choose another name") from None
    return team, token


def list_teams(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    with sessions() as s:
        teams = s.scalars(select(Team).order_by(Team.name)).all()
        return [
            {"name": t.name, "created_at": t.created_at.isoformat(), "submissions": len(t.submissions)}
            for t in teams
        ]


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who sent a request: the organiser, a team, or nobody (no or an unknown token)."""

    organiser: bool = False
    team_id: int | None = None
    team_name: str | None = None

    def can_read(self, team_id: int) -> bool:
        return self.organiser or self.team_id == team_id


def identify(sessions: sessionmaker[Session], token: str | None, organiser_token: str) -> Caller:
    if not token:
        return Caller()
    if same(token, organiser_token):
        return Caller(organiser=True)
    with sessions() as s:
        team = s.scalar(select(Team).where(Team.token_hash == token_hash(token)))
        return Caller(team_id=team.id, team_name=team.name) if team is not None else Caller()


__all__ = ["TEAM_PATTERN", "Caller", "add_team", "identify", "list_teams"]
