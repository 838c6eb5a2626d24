"""The published leaderboard of each round: built once per scoring, read many times.

A round's scores change only when the evaluator writes its ``results.json`` (after a piece, at most
every ``score_every`` seconds, and at the end of a pass). The leaderboard JSON that
``GET /api/leaderboard`` sends is built from it **once per version** (the evaluator publishes it as
soon as it wrote the file) and kept in memory as encoded bytes, so a read is a ``stat`` of
results.json and a send of bytes, with an ``ETag`` that lets a poller get ``304 Not Modified``
instead. Reads never parse results.json, validate it, or encode JSON.

The version is results.json's identity on disk (inode, size and modification time): the engine
replaces the file atomically, so every write is a new inode, and a write by anything else (a restore
from a backup) is noticed as well.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

from advengine.competition.artefacts import Results, json_safe, read_json
from advengine.errors import ServerError
from advengine.server.settings import ServerSettings

#: The version of a round that has no scores yet.
UNSCORED = "0"


class UnknownRoundError(ServerError):
    """A round that the competition does not have."""


@dataclasses.dataclass(frozen=True)
class Published:
    """One version of a round's leaderboard: the dict, and the bytes and ETag that a read sends."""

    round: str
    version: str
    board: dict[str, Any]
    body: bytes

    @property
    def etag(self) -> str:
        return f'"{self.round}-{self.version}"'


def _version(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return UNSCORED
    return f"{st.st_mtime_ns}-{st.st_ino}-{st.st_size}"


def build(round_name: str, path: Path, version: str) -> Published:
    """The leaderboard of ``path`` (a round's results.json, or none yet) in results.json's shape:
    per track, the entries with name, team, score and the rest of their fields."""
    board: dict[str, Any] = {
        "round": round_name,
        "scored": False,
        "version": version,
        "attacks": [],
        "targeted_attacks": [],
        "defenses": [],
    }
    if version != UNSCORED:
        results = Results.model_validate(read_json(path))

        def entries(items: list[Any]) -> list[dict[str, Any]]:
            return [json_safe(it.model_dump(mode="json")) for it in items]

        board.update(
            scored=True,
            mode=results.mode,
            images=results.dataset.images,
            attacks=entries(results.nontargeted()),
            targeted_attacks=entries(results.targeted()),
            defenses=entries(results.defenses),
        )
    body = json.dumps(board, separators=(",", ":"), allow_nan=False).encode()
    return Published(round_name, version, board, body)


class Boards:
    """Every round's published leaderboard, rebuilt only when its results.json changed."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.rounds = list(settings.rounds())
        self._published: dict[str, Published] = {}
        self._lock = threading.Lock()

    def round_name(self, round_name: str | None) -> str:
        """``round_name``, or the first round when None; an unknown round is refused."""
        name = round_name or self.rounds[0]
        if name not in self.rounds:
            raise UnknownRoundError(f"no round {name!r}; rounds: {', '.join(self.rounds)}")
        return name

    def _path(self, name: str) -> Path:
        return self.settings.state / "rounds" / name / "results.json"

    def current(self, round_name: str | None) -> Published | None:
        """The published leaderboard if it is up to date (a stat and a lookup, cheap enough for the
        event loop); None when it must be built first (:meth:`get`)."""
        name = self.round_name(round_name)
        found = self._published.get(name)
        return found if found is not None and found.version == _version(self._path(name)) else None

    def get(self, round_name: str | None) -> Published:
        """The round's leaderboard, built now if results.json changed since it was last built."""
        return self.current(round_name) or self.publish(self.round_name(round_name))

    def publish(self, round_name: str) -> Published:
        """Build the round's leaderboard from its results.json as it is now; the evaluator calls this
        right after it wrote the file, so readers find it built."""
        path = self._path(round_name)
        with self._lock:  # one build per version, however many readers arrive at once
            version = _version(path)
            found = self._published.get(round_name)
            if found is not None and found.version == version:
                return found
            try:
                published = build(round_name, path, version)
            except FileNotFoundError:  # replaced between the stat and the read: the newer one next time
                published = build(round_name, path, UNSCORED)
            self._published[round_name] = published
            return published


__all__ = ["UNSCORED", "Boards", "Published", "UnknownRoundError", "build"]
