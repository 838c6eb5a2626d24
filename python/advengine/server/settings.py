"""What one server serves: the competition, where its state lives, and its limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from advengine.competition.config import CompetitionConfig
from advengine.server.db import sqlite_url

#: Uploads larger than this are cut (bytes); the original validator's cap is 8 GiB, a test round's
#: PNGs and most code archives are far smaller.
DEFAULT_MAX_UPLOAD = 256 << 20
#: Submissions per team per day (UTC) that count against the quota.
DEFAULT_DAILY_QUOTA = 20


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    config: CompetitionConfig
    state: Path
    db_url: str | None = None
    executor: str = "local"
    ray_address: str | None = None
    workers: int = 1
    max_upload: int = DEFAULT_MAX_UPLOAD
    daily_quota: int = DEFAULT_DAILY_QUOTA
    #: Seconds without a heartbeat after which a round's evaluation lease is taken over.
    lease_seconds: float = 30.0
    #: Seconds between live rescorings while a round is evaluated (after a piece finishes).
    score_every: float = 2.0
    #: Sandbox of uploaded code ("auto", "bwrap", "docker"; "unsafe-none" only for tests and demos).
    sandbox: str = "auto"

    @property
    def url(self) -> str:
        return self.db_url or sqlite_url(self.state)

    def rounds(self) -> dict[str, CompetitionConfig]:
        """The competition's rounds by name; a config without rounds is the one round ``main``."""
        if not self.config.rounds:
            return {"main": self.config}
        return {r.round_name or f"round{i}": r for i, r in enumerate(self.config.rounds)}


__all__ = ["DEFAULT_DAILY_QUOTA", "DEFAULT_MAX_UPLOAD", "ServerSettings"]
