"""Incremental evaluation: each round is one run directory (``STATE/rounds/<round>``) that the
existing engine resumes with the current roster (``Competition.incremental``), so only new work
runs: a new attack's pieces and then every defense on its images, a new defense's column, and the
pieces of a replaced submission and of what depends on it. After each pass the round's scores are
the engine's own (``build_results``, written to results.json).

Nothing stuck: a round is evaluated by whoever holds its lease, kept alive by a heartbeat; a lease
whose heartbeat stopped (the server was killed) is taken over, and its submissions, put back to
``queued`` at start, resume from the piece records on disk. Each piece the pass runs holds its own
lease (:mod:`advengine.server.pieces`): a piece whose worker or Ray node died, or whose evaluator
stopped beating, is re-queued and run again. Every piece has the competition's time limit, so every
pass, and with it every submission, ends.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from advengine.competition.artefacts import PieceId, save
from advengine.competition.config import CompetitionConfig
from advengine.competition.engine import Competition
from advengine.competition.executor import Executor, ProcessExecutor
from advengine.competition.state import RunDir
from advengine.context import RunContext
from advengine.errors import AdvEngineError
from advengine.reporting import write_report_or_warn
from advengine.server.db import DONE, FAILED, QUEUED, RUNNING, RoundLease, Submission, now
from advengine.server.pieces import LeasedExecutor, PieceLeases, requeue_stale
from advengine.server.roster import live, round_config
from advengine.server.settings import ServerSettings
from advengine.types import CLEAN

log = logging.getLogger("advengine.server")


def make_executor(settings: ServerSettings, cfg: CompetitionConfig) -> Executor:
    """Pieces run in worker processes (or Ray tasks): the server process never loads a model."""
    context = RunContext.from_env(providers=cfg.providers)
    limits = {"time_limit": cfg.time_limit, "warmup_limit": cfg.warmup_limit}
    if settings.executor == "ray":
        import importlib  # Ray is an optional extra and costs a second to import

        ray_executor = importlib.import_module("advengine.competition.ray_executor")
        executor: Executor = ray_executor.RayExecutor(
            settings.ray_address,
            num_cpus=max(1, settings.workers),
            plugins=cfg.plugins,
            context=context,
            **limits,
        )
        return executor
    return ProcessExecutor(max(1, settings.workers), plugins=cfg.plugins, context=context, **limits)


def own_pieces(cfg: CompetitionConfig, label: str, n_batches: int) -> tuple[list[PieceId], list[PieceId]]:
    """(the entry's own pieces, the pieces that depend on them) in the round's run."""
    entry = next(e for e in cfg.entries if e.label == label)
    batches = range(n_batches)
    if entry.track == "defense":
        own = [
            PieceId.of_defense(label, a, b)
            for a in (CLEAN, *(e.label for e in cfg.all_attacks))
            for b in batches
        ]
        return own, []
    own = [PieceId.of_attack(label, b) for b in batches]
    return own, [PieceId.of_defense(d.label, label, b) for d in cfg.defenses for b in batches]


class _Progress:
    """The engine's listener: counts each running submission's finished pieces and beats the
    round's heartbeat after every piece."""

    def __init__(self, beat: Callable[[], None]) -> None:
        self.beat = beat

    def message(self, text: str) -> None:
        log.info("%s", text)

    def stage(self, name: str, total: int, done: int) -> None:
        return None

    def piece(self, piece: PieceId, status: str, seconds: float) -> None:
        self.beat()


class Evaluator:
    """Runs dirty rounds, one pass at a time, in a background thread of the server."""

    def __init__(self, settings: ServerSettings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = uuid.uuid4().hex
        self.stop = threading.Event()
        self._scored_at = 0.0
        #: Called with a round's name each time its results.json was written (the app publishes the
        #: new leaderboard then, so that no reader pays for building it).
        self.on_scored: Callable[[str], object] | None = None
        self.thread: threading.Thread | None = None
        self.executor_factory: Callable[[CompetitionConfig], Executor] = lambda cfg: make_executor(
            settings, cfg
        )

    # -- state --------------------------------------------------------------------------------------

    def recover(self) -> None:
        """At start: every round exists, and work a dead server left ``running`` is queued again (a
        platform failure: nothing is charged, nothing is marked failed). One server serves one
        database (docs/server.md), so the leases a dead server held, its rounds' and its pieces',
        are released now rather than after their heartbeat times out."""
        requeue_stale(self.sessions, self.settings.lease_seconds, everything=True)
        with self.sessions.begin() as s:
            for name in self.settings.rounds():
                if s.get(RoundLease, name) is None:
                    s.add(RoundLease(name=name, dirty=True))
            s.execute(update(RoundLease).values(owner=None, heartbeat_at=None))
            stuck = s.scalars(select(Submission).where(Submission.state == RUNNING)).all()
            for sub in stuck:
                log.info("submission %d was running when the server stopped: queued again", sub.id)
                sub.state = QUEUED
            rounds = {sub.round for sub in s.scalars(select(Submission).where(Submission.state == QUEUED))}
            for name in rounds:
                s.execute(update(RoundLease).where(RoundLease.name == name).values(dirty=True))

    def _claim(self) -> str | None:
        """Take the lease of a dirty round that nobody holds (or whose holder stopped beating). A
        round whose holder stopped beating is dirty again, and so is one with pieces whose
        heartbeat went stale (they are queued again): their work is taken over."""
        requeue_stale(self.sessions, self.settings.lease_seconds)
        stale = now() - timedelta(seconds=self.settings.lease_seconds)
        with self.sessions.begin() as s:
            s.execute(
                update(RoundLease)
                .where(RoundLease.owner.is_not(None), RoundLease.heartbeat_at < stale)
                .values(dirty=True)
            )
            names = s.scalars(select(RoundLease.name).where(RoundLease.dirty.is_(True))).all()
            for name in names:
                claimed = s.execute(
                    update(RoundLease)
                    .where(
                        RoundLease.name == name,
                        or_(
                            RoundLease.owner.is_(None),
                            RoundLease.owner == self.owner,
                            RoundLease.heartbeat_at < stale,
                        ),
                    )
                    .values(owner=self.owner, heartbeat_at=now(), dirty=False)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    return str(name)
        return None

    def _beat(self, name: str, pieces: PieceLeases | None = None) -> None:
        """The round's heartbeat, and that of every piece of it this evaluator runs."""
        with self.sessions.begin() as s:
            s.execute(
                update(RoundLease)
                .where(RoundLease.name == name, RoundLease.owner == self.owner)
                .values(heartbeat_at=now())
            )
            if pieces is not None:
                pieces.beat(s)

    def _release(self, name: str, scored: bool) -> None:
        with self.sessions.begin() as s:
            values: dict[str, Any] = {"owner": None, "heartbeat_at": None}
            if scored:
                values["scored_at"] = now()
            s.execute(update(RoundLease).where(RoundLease.name == name).values(**values))

    def _mark_dirty(self, name: str) -> None:
        with self.sessions.begin() as s:
            s.execute(update(RoundLease).where(RoundLease.name == name).values(dirty=True))

    # -- one pass -----------------------------------------------------------------------------------

    def run_dir(self, name: str) -> Path:
        return self.settings.state / "rounds" / name

    def evaluate(self, name: str) -> None:
        """One incremental pass over round ``name`` with its current roster."""
        base = self.settings.rounds()[name]
        with self.sessions.begin() as s:
            subs = live(s, name)
            for sub in subs:
                if sub.state == QUEUED:
                    sub.state = RUNNING
            ids = {sub.id: sub.label for sub in subs}
            cfg = round_config(base, subs, self.settings.state, self.settings.sandbox)
        out = self.run_dir(name)
        stop_beat = threading.Event()
        leases = PieceLeases(self.sessions, name, self.owner)

        def heartbeat() -> None:
            while not stop_beat.wait(self.settings.lease_seconds / 3):
                try:
                    self._beat(name, leases)
                except SQLAlchemyError as exc:  # a missed beat is retried; the lease outlasts two
                    log.warning("round %s: heartbeat failed: %s", name, type(exc).__name__)

        # The run's HMAC key stays in the state dir, beside the database and outside the run dir that
        # the round's pages publish (docs/records.md).
        executor = LeasedExecutor(self.executor_factory(cfg), leases)
        comp = Competition(cfg, out, executor=executor, key_dir=self.settings.state / "keys")
        comp.listener = _Progress(lambda: self._progress(name, ids, cfg, comp, leases))
        comp.incremental = True
        # Started only now, and always stopped below: a pass that fails to start leaves no beat behind.
        beater = threading.Thread(target=heartbeat, name=f"advengine-heartbeat-{name}", daemon=True)
        beater.start()
        try:
            comp.run(resume=True)
        finally:
            stop_beat.set()
            beater.join()
        self._scored(name)
        write_report_or_warn(out, log.warning)  # the round page links it
        n_batches = len(comp.batches)
        self._reconcile(leases, cfg, n_batches)
        failed_any = self._settle(name, ids, cfg, n_batches)
        if failed_any:
            self._mark_dirty(name)  # score again without the failed entries

    def _scored(self, name: str) -> None:
        if self.on_scored is not None:
            self.on_scored(name)

    def _progress(
        self, name: str, ids: dict[int, str], cfg: CompetitionConfig, comp: Competition, leases: PieceLeases
    ) -> None:
        self._beat(name, leases)
        run = RunDir(self.run_dir(name))
        n_batches = len(comp.batches)
        if time.monotonic() - self._scored_at >= self.settings.score_every:
            # Live scores between passes: the engine's own scoring of the records so far.
            partial = comp.partial_results()
            if partial is not None:
                save(run.root / "results.json", partial)
                self._scored(name)
            self._scored_at = time.monotonic()
        with self.sessions.begin() as s:
            for sid, label in ids.items():
                own, deps = own_pieces(cfg, label, n_batches)
                done = sum(run.record_path(p).is_file() for p in (*own, *deps))
                s.execute(
                    update(Submission)
                    .where(Submission.id == sid)
                    .values(pieces_done=done, pieces_total=len(own) + len(deps))
                )

    def _reconcile(self, leases: PieceLeases, cfg: CompetitionConfig, n_batches: int) -> None:
        """The pieces' rows after a pass: those of entries gone dropped, those whose evaluator died
        after recording them brought to their record's state."""
        run = RunDir(self.run_dir(leases.round))
        every = {str(p): p for e in cfg.entries for p in own_pieces(cfg, e.label, n_batches)[0]}

        def status(piece: PieceId) -> str | None:
            rec = run.read_attack(piece)[0] if piece.attack is None else run.read_defense(piece)[0]
            return rec.status if rec is not None else None

        leases.reconcile(every, status)

    def _settle(self, name: str, ids: dict[int, str], cfg: CompetitionConfig, n_batches: int) -> bool:
        """Each submission of the pass ends ``done``, or ``failed`` (with the reason) when every
        one of its own pieces failed: its own failure, which the quota counts."""
        run = RunDir(self.run_dir(name))
        failed_any = False
        with self.sessions.begin() as s:
            for sid, label in ids.items():
                sub = s.get(Submission, sid)
                if sub is None:
                    continue
                own, deps = own_pieces(cfg, label, n_batches)
                found = [run.read_attack(p)[0] if p.attack is None else run.read_defense(p)[0] for p in own]
                # A defense has no piece on a batch an attack made no images for: only those it has.
                records = [r for r in found if r is not None]
                errors = [r.error or r.status for r in records if r.status != "ok"]
                done = sum(run.record_path(p).is_file() for p in (*own, *deps))
                # While a pass runs the total is an upper bound (a batch an attack made no images for
                # has no defense piece); once it ended, every piece that could run has.
                sub.pieces_done = sub.pieces_total = done
                if records and len(errors) == len(records):
                    sub.state, sub.reason = FAILED, " ".join(errors[0].split())[:500]
                    failed_any = True
                else:
                    sub.state = DONE  # its reason stays: a test round's notes on its upload
        return failed_any

    # -- the loop -----------------------------------------------------------------------------------

    def step(self) -> bool:
        """Evaluate one dirty round if there is one; returns whether there was."""
        name = self._claim()
        if name is None:
            return False
        scored = False
        try:
            self.evaluate(name)
            scored = True
        except AdvEngineError as exc:
            # The pass itself failed (a model or dataset missing, a sandbox that cannot be made):
            # the platform's failure, not a team's, so its submissions end failed but uncharged.
            self._fail_round(name, " ".join(str(exc).split())[:500])
        except Exception as exc:
            # A bug: still the platform's, and still no submission may stay running because of it.
            log.exception("round %s: evaluation pass failed", name)
            self._fail_round(name, f"internal error ({type(exc).__name__}); the organiser has the log")
        finally:
            self._release(name, scored)
        return True

    def _fail_round(self, name: str, why: str) -> None:
        log.error("round %s: %s", name, why)
        with self.sessions.begin() as s:
            s.execute(
                update(Submission)
                .where(Submission.round == name, Submission.state.in_((QUEUED, RUNNING)))
                .values(state=FAILED, reason=f"platform: {why}", charged=False)
            )

    def run_forever(self, poll: float = 0.5) -> None:
        while not self.stop.is_set():
            try:
                busy = self.step()
            except Exception:  # the loop must outlive any one pass; the next upload retries
                log.exception("evaluation pass failed")
                busy = False
            if not busy:
                self.stop.wait(poll)

    def start(self) -> None:
        self.recover()
        self.thread = threading.Thread(target=self.run_forever, name="advengine-evaluator", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


__all__ = ["Evaluator", "make_executor", "own_pieces"]
