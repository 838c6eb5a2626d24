"""Per-piece leases (issue 24: "a running piece holds a lease with a heartbeat; a piece whose worker
or Ray node died is re-queued").

The engine (``Competition``) decides which pieces a pass runs and hands them to an executor in
batches (``Executor.run(jobs, on_done)``). :class:`LeasedExecutor` is an executor that wraps the
real one (the local worker processes or Ray) and gives every piece a row in the ``pieces`` table:

- ``queued`` when the engine hands it over;
- ``running`` with this evaluator as its owner and a heartbeat when the executor dispatches it (the
  executor calls the job's ``load`` just before it sends the piece to a worker or a Ray task);
- ``done`` or ``failed`` with the piece's own outcome, after the engine recorded it;
- back to ``queued`` when the platform lost it: the executor reports that its worker process died
  (the OOM killer, a signal) or that Ray gave up on a task whose nodes kept dying. The piece is then
  dispatched again at once, in the same pass, up to ``max_lost`` times; after that its outcome is
  recorded as the entry's own crash (a piece that kills every worker it runs on is the entry's).
  Once the pass is over, :meth:`PieceLeases.reconcile` brings rows whose evaluator died after the
  engine recorded their piece to the record's state, and drops rows of entries that left the roster.

The heartbeat is the evaluator's: while it waits on its pieces it beats every piece it owns
(:meth:`PieceLeases.beat`, with the round's lease). A piece whose heartbeat went stale was owned by
an evaluator that died (the server killed): :func:`requeue_stale` puts it back to ``queued``, counts
the loss and marks its round dirty, and the next pass runs it again, because a piece without a record
in the run dir is work the engine has not done. A worker's own death does not wait for a stale
heartbeat: the executor notices it at once (the worker's pipe closes; Ray reports the task lost).

None of this touches a submission's quota: losses of the platform are counted on the piece, never
charged to the team, and a re-queued piece never makes its submission ``failed``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from advengine.competition.artefacts import PieceId
from advengine.competition.executor import Executor, Job, Outcome
from advengine.competition.pieces import Inputs
from advengine.server.db import DONE, FAILED, QUEUED, RUNNING, Piece, RoundLease, now

log = logging.getLogger("advengine.server")
#: How the executors report a piece the platform lost: a local worker process that died
#: (competition/executor.py) and a Ray task whose retries on other nodes ran out (ray_executor.py).
LOST_MARKERS = ("worker process died", "Ray task failed")


def lost_by_platform(outcome: Outcome) -> bool:
    return outcome.status == "crashed" and (outcome.error or "").startswith(LOST_MARKERS)


class PieceLeases:
    """The ``pieces`` rows of one round, as one evaluator (``owner``) works on them."""

    def __init__(self, sessions: sessionmaker[Session], round_name: str, owner: str) -> None:
        self.sessions = sessions
        self.round = round_name
        self.owner = owner

    def queue(self, jobs: list[Job]) -> None:
        """The pieces the engine handed over, ``queued`` (a row of an earlier pass is reused, its
        attempts and losses kept)."""
        keys = {str(job.piece): job.entry.label for job in jobs}
        if not keys:
            return
        with self.sessions.begin() as s:
            query = select(Piece).where(Piece.round == self.round, Piece.piece.in_(list(keys)))
            rows = s.scalars(query).all()
            for row in rows:
                row.state, row.owner, row.heartbeat_at, row.entry = QUEUED, None, None, keys[row.piece]
            for key in keys.keys() - {row.piece for row in rows}:
                s.add(Piece(round=self.round, piece=key, entry=keys[key], state=QUEUED, attempts=0, lost=0))

    def claim(self, piece: PieceId) -> None:
        """The executor dispatches the piece: it runs, owned by this evaluator, from now."""
        with self.sessions.begin() as s:
            s.execute(
                update(Piece)
                .where(Piece.round == self.round, Piece.piece == str(piece))
                .values(state=RUNNING, owner=self.owner, heartbeat_at=now(), attempts=Piece.attempts + 1)
            )

    def beat(self, s: Session) -> None:
        """Every piece this evaluator runs is alive (called in the round heartbeat's transaction)."""
        s.execute(
            update(Piece)
            .where(Piece.round == self.round, Piece.owner == self.owner, Piece.state == RUNNING)
            .values(heartbeat_at=now())
        )

    def finish(self, piece: PieceId, outcome: Outcome) -> None:
        """The piece's own outcome, once the engine recorded it."""
        state = DONE if outcome.status == "ok" else FAILED
        with self.sessions.begin() as s:
            s.execute(
                update(Piece)
                .where(Piece.round == self.round, Piece.piece == str(piece))
                .values(state=state, owner=None, heartbeat_at=None, error=outcome.error)
            )

    def lose(self, piece: PieceId, why: str, *, requeue: bool = True) -> None:
        """The platform lost the piece: the loss counted, and (``requeue``) the piece back to
        ``queued``; otherwise it is finished next, as the entry's own failure."""
        values: dict[str, Any] = {"error": why, "lost": Piece.lost + 1}
        if requeue:
            values.update(state=QUEUED, owner=None, heartbeat_at=None)
        with self.sessions.begin() as s:
            where = (Piece.round == self.round, Piece.piece == str(piece))
            s.execute(update(Piece).where(*where).values(**values))

    def reconcile(self, pieces: dict[str, PieceId], status: Callable[[PieceId], str | None]) -> None:
        """After a pass. ``pieces``: every piece of the round's run now, by key. A row of a piece no
        longer in the run (its entry left the roster) is dropped; a row left ``queued`` or
        ``running`` whose piece has a record (its evaluator died after the engine recorded it; the
        pass then reused the record) takes the record's state."""
        with self.sessions.begin() as s:
            rows = s.scalars(select(Piece).where(Piece.round == self.round)).all()
            gone = [row.piece for row in rows if row.piece not in pieces]
            if gone:
                s.execute(delete(Piece).where(Piece.round == self.round, Piece.piece.in_(gone)))
            for row in rows:
                if row.piece in pieces and row.state in (QUEUED, RUNNING):
                    found = status(pieces[row.piece])
                    if found is not None:
                        row.state, row.owner, row.heartbeat_at = DONE if found == "ok" else FAILED, None, None


def requeue_stale(sessions: sessionmaker[Session], lease_seconds: float, *, everything: bool = False) -> int:
    """Pieces ``running`` whose heartbeat is older than ``lease_seconds`` (``everything``: all of
    them, as at a server's start, when no evaluator of this database is alive) go back to
    ``queued``, their loss counted, and their rounds are marked dirty so that a pass runs them
    again. Returns how many."""
    with sessions.begin() as s:
        query = select(Piece).where(Piece.state == RUNNING)
        if not everything:
            stale = now() - timedelta(seconds=lease_seconds)
            query = query.where((Piece.heartbeat_at < stale) | Piece.heartbeat_at.is_(None))
        rows = s.scalars(query).all()
        for row in rows:
            log.info("round %s: %s lost its evaluator (%s); queued again", row.round, row.piece, row.owner)
            row.state, row.owner, row.heartbeat_at = QUEUED, None, None
            row.error = "its evaluator stopped (heartbeat lost)"
            row.lost += 1
        for name in {row.round for row in rows}:
            s.execute(update(RoundLease).where(RoundLease.name == name).values(dirty=True))
        return len(rows)


def empty_counts() -> dict[str, int]:
    return dict.fromkeys((QUEUED, RUNNING, DONE, FAILED, "requeued"), 0)


def counts(s: Session) -> dict[str, dict[str, int]]:
    """Per round: its pieces per state, and how often the platform lost one (each time re-queued)."""
    out: dict[str, dict[str, int]] = {}
    query = select(Piece.round, Piece.state, func.count(), func.sum(Piece.lost)).group_by(
        Piece.round, Piece.state
    )
    for round_name, state, n, lost in s.execute(query):
        c = out.setdefault(round_name, empty_counts())
        c[state] = c.get(state, 0) + int(n)
        c["requeued"] += int(lost or 0)
    return out


@dataclasses.dataclass
class LeasedExecutor:
    """An executor that leases each piece (see the module's docstring) and runs it on ``inner``."""

    inner: Executor
    leases: PieceLeases
    #: Times a piece the platform lost is dispatched again before its loss is the entry's crash.
    max_lost: int = 1

    def _note(self, write: Callable[[], None]) -> None:
        """A write to the piece leases. The run dir's records are the truth the engine resumes from
        and the leases are the server's account of them, so a database that fails one write (a
        lock timeout, a dropped connection) costs a warning, never the piece: a piece whose claim
        was not written still runs, and one left without a record is run by the next pass."""
        try:
            write()
        except SQLAlchemyError as exc:
            log.warning("round %s: a piece lease was not written: %s", self.leases.round, type(exc).__name__)

    def _claiming(self, job: Job) -> Job:
        def load() -> Inputs:
            self._note(lambda: self.leases.claim(job.piece))
            return job.load()

        return dataclasses.replace(job, load=load)

    def run(self, jobs: Iterable[Job], on_done: Callable[[Job, Outcome], None]) -> None:
        pending = list(jobs)
        given = {job.piece: job for job in pending}  # the engine's jobs, not their claiming wrappers
        self._note(lambda: self.leases.queue(pending))
        lost_here: Counter[PieceId] = Counter()  # this pass's losses decide; the row counts them all
        again: list[Job] = []

        def done(job: Job, outcome: Outcome) -> None:
            if lost_by_platform(outcome):
                why = outcome.error or "lost"
                lost_here[job.piece] += 1
                again_now = lost_here[job.piece] <= self.max_lost
                self._note(lambda: self.leases.lose(job.piece, why, requeue=again_now))
                if again_now:
                    log.warning("round %s: %s lost (%s); queued again", self.leases.round, job.piece, why)
                    again.append(given[job.piece])
                    return
            on_done(job, outcome)  # the engine records it first: a row never says done without it
            self._note(lambda: self.leases.finish(job.piece, outcome))

        while pending:
            self.inner.run([self._claiming(job) for job in pending], done)
            pending, again[:] = list(again), []

    def close(self) -> None:
        self.inner.close()


__all__ = [
    "LOST_MARKERS",
    "LeasedExecutor",
    "PieceLeases",
    "counts",
    "empty_counts",
    "lost_by_platform",
    "requeue_stale",
]
