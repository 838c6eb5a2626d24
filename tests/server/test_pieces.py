"""Per-piece leases on both databases: a piece is queued, claimed when it is dispatched, kept alive
by its evaluator's heartbeat and finished after the engine recorded it; a piece the platform lost is
re-queued and dispatched again (once), and a piece whose heartbeat went stale is re-queued and its
round marked dirty, while a piece whose evaluator still beats is left alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tests.server.conftest import tiny_config

from advengine.competition.artefacts import PieceId
from advengine.competition.executor import Job, Outcome
from advengine.server import ServerSettings
from advengine.server.app import open_db
from advengine.server.db import Piece, RoundLease, now
from advengine.server.pieces import LeasedExecutor, PieceLeases, counts, requeue_stale

DIED = "worker process died (exit -9)"


def _sessions(settings: ServerSettings) -> sessionmaker[Session]:
    return open_db(settings.state, settings.db_url)


def _jobs(*batches: int) -> list[Job]:
    entry = tiny_config().entries[0]  # the noop attack
    assert entry.label == "noop"
    return [Job(PieceId.of_attack("noop", b), entry, lambda b=b: np.full(1, b)) for b in batches]


class Scripted:
    """An executor that answers each dispatch with the next outcome scripted for its piece, and
    checks what the lease rows say while the piece runs."""

    def __init__(
        self, sessions: sessionmaker[Session], script: dict[int, list[Outcome]], *, check: bool = True
    ) -> None:
        self.sessions, self.script, self.check = sessions, script, check
        self.dispatched: list[int] = []
        self.closed = False

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        for job in jobs:
            job.load()
            if self.check:
                with self.sessions() as s:
                    row = s.get(Piece, ("main", str(job.piece)))
                    assert row is not None
                    assert (row.state, row.owner) == ("running", "me")
            self.dispatched.append(job.piece.batch)
            on_done(job, self.script[job.piece.batch].pop(0))

    def close(self) -> None:
        self.closed = True


def _rows(sessions: sessionmaker[Session]) -> dict[str, tuple[str, int, int]]:
    with sessions() as s:
        return {p.piece: (p.state, p.attempts, p.lost) for p in s.scalars(select(Piece))}


def test_a_lost_piece_runs_again_once_and_its_own_failures_are_recorded(settings: ServerSettings) -> None:
    sessions = _sessions(settings)
    ok, crash = Outcome("ok", 1, 0.1), Outcome("crashed", None, 0.1, "ValueError: bad")
    died = Outcome("crashed", None, 0.1, DIED)
    # b0 is lost once and then works; b1 is lost twice (its second loss is its own crash); b2
    # crashes by itself (no re-run); b3 works at once.
    inner = Scripted(sessions, {0: [died, ok], 1: [died, died], 2: [crash], 3: [ok]})
    executor = LeasedExecutor(inner, PieceLeases(sessions, "main", "me"))
    recorded: list[tuple[int, str, str | None]] = []

    def on_done(job: Job, outcome: Outcome) -> None:
        with sessions() as s:  # the engine records before the row says finished
            row = s.get(Piece, ("main", str(job.piece)))
            assert row is not None
            assert row.state == "running"
        recorded.append((job.piece.batch, outcome.status, outcome.error))

    executor.run(_jobs(0, 1, 2, 3), on_done)
    executor.close()
    assert inner.closed
    assert inner.dispatched == [0, 1, 2, 3, 0, 1]  # the lost ones again, after the first round
    assert sorted(recorded) == [
        (0, "ok", None),
        (1, "crashed", DIED),  # lost twice: recorded as its own crash
        (2, "crashed", "ValueError: bad"),
        (3, "ok", None),
    ]
    assert _rows(sessions) == {
        "attack/noop/b0000": ("done", 2, 1),
        "attack/noop/b0001": ("failed", 2, 2),
        "attack/noop/b0002": ("failed", 1, 0),
        "attack/noop/b0003": ("done", 1, 0),
    }
    with sessions() as s:
        assert counts(s)["main"] == {"queued": 0, "running": 0, "done": 2, "failed": 2, "requeued": 3}


def test_a_stale_piece_is_requeued_and_a_beating_one_is_not(settings: ServerSettings) -> None:
    sessions = _sessions(settings)
    with sessions.begin() as s:
        s.add(RoundLease(name="main", dirty=False, owner="dead", heartbeat_at=now() - timedelta(hours=1)))
        s.add(RoundLease(name="other", dirty=False, owner="alive", heartbeat_at=now()))
    dead, alive = PieceLeases(sessions, "main", "dead"), PieceLeases(sessions, "other", "alive")
    dead.queue(_jobs(0, 1))
    alive.queue(_jobs(0))
    for leases, batch in ((dead, 0), (dead, 1), (alive, 0)):
        leases.claim(PieceId.of_attack("noop", batch))
    dead.finish(PieceId.of_attack("noop", 1), Outcome("ok", 1, 0.1))
    with sessions.begin() as s:  # the dead evaluator's last beat was an hour ago
        s.get(Piece, ("main", "attack/noop/b0000")).heartbeat_at = now() - timedelta(hours=1)  # type: ignore[union-attr]
    with sessions.begin() as s:
        alive.beat(s)
    assert requeue_stale(sessions, lease_seconds=30.0) == 1
    with sessions() as s:
        rows = {(p.round, p.piece): (p.state, p.owner, p.lost) for p in s.scalars(select(Piece))}
        dirty = {r.name: r.dirty for r in s.scalars(select(RoundLease))}
    assert rows == {
        ("main", "attack/noop/b0000"): ("queued", None, 1),  # stale: queued again, its loss counted
        ("main", "attack/noop/b0001"): ("done", None, 0),  # finished: not a lease any more
        ("other", "attack/noop/b0000"): ("running", "alive", 0),  # its evaluator beats
    }
    assert dirty == {"main": True, "other": False}
    # At a server's start no evaluator of this database is alive: every running piece goes back.
    assert requeue_stale(sessions, lease_seconds=30.0, everything=True) == 1
    with sessions() as s:
        assert s.get(Piece, ("other", "attack/noop/b0000")).state == "queued"  # type: ignore[union-attr]


def test_reconcile_takes_recorded_states_and_drops_pieces_gone(settings: ServerSettings) -> None:
    sessions = _sessions(settings)
    leases = PieceLeases(sessions, "main", "me")
    leases.queue(_jobs(0, 1, 2))
    leases.claim(PieceId.of_attack("noop", 0))
    recorded: dict[int, Any] = {0: "ok", 1: None}
    pieces = {str(p): p for p in (PieceId.of_attack("noop", 0), PieceId.of_attack("noop", 1))}
    leases.reconcile(pieces, lambda p: recorded[p.batch])
    assert _rows(sessions) == {"attack/noop/b0000": ("done", 1, 0), "attack/noop/b0001": ("queued", 0, 0)}


def test_a_lease_the_database_did_not_write_never_costs_the_piece(
    settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = _sessions(settings)
    leases = PieceLeases(sessions, "main", "me")

    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE pieces", {}, Exception("database is locked"))

    for write in ("claim", "lose", "finish"):
        monkeypatch.setattr(leases, write, locked)
    died = Outcome("crashed", None, 0.1, DIED)
    inner = Scripted(sessions, {0: [Outcome("ok", 1, 0.1)], 1: [died, Outcome("ok", 1, 0.1)]}, check=False)
    recorded: list[tuple[int, str]] = []
    LeasedExecutor(inner, leases).run(
        _jobs(0, 1), lambda job, out: recorded.append((job.piece.batch, out.status))
    )
    assert sorted(recorded) == [(0, "ok"), (1, "ok")]  # both ran; the lost one again
    assert inner.dispatched == [0, 1, 1]
    assert _rows(sessions) == {"attack/noop/b0000": ("queued", 0, 0), "attack/noop/b0001": ("queued", 0, 0)}
