"""The server's state in a SQL database (SQLAlchemy 2): teams, submissions, the rounds' evaluation
leases and their pieces' leases. SQLite in WAL mode by default (``STATE/advengine.db``), PostgreSQL
through ``--db postgresql+psycopg://…``. The schema is created and upgraded by the Alembic migrations
shipped in ``advengine/server/migrations`` (:func:`advengine.server.migrate.upgrade`), never by
``create_all``, so a deployed database always knows its revision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    false,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from advengine.errors import ConfigError

#: Submission states; the last four are terminal.
QUEUED, RUNNING, DONE, FAILED, REJECTED = "queued", "running", "done", "failed", "rejected"
TERMINAL = (DONE, FAILED, REJECTED)


def now() -> dt.datetime:
    """UTC, without tzinfo: SQLite and PostgreSQL then store and return the same value."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    #: sha256 of the token: the token itself is printed once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now)

    submissions: Mapped[list[Submission]] = relationship(back_populates="team")


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    round: Mapped[str] = mapped_column(String(64), index=True)
    track: Mapped[str] = mapped_column(String(16))
    #: The submission's name (its archive's name): a later upload of the same name replaces it.
    name: Mapped[str] = mapped_column(String(64))
    #: sha256 of the uploaded bytes; the blob lives at ``STATE/blobs/<digest[:2]>/<digest><suffix>``.
    digest: Mapped[str] = mapped_column(String(64))
    blob: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    pieces_done: Mapped[int] = mapped_column(Integer, default=0)
    pieces_total: Mapped[int] = mapped_column(Integer, default=0)
    #: Counts against the team's daily quota: false for a rejected upload and for a failure of the
    #: platform (a pass that could not run), true for everything else, the team's own failures too.
    charged: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A later upload of the same name replaced this one (it left the roster).
    replaced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, onupdate=now)

    team: Mapped[Team] = relationship(back_populates="submissions")

    @property
    def label(self) -> str:
        """The roster label: team and name, so two teams may use the same archive name."""
        return f"{self.team.name}.{self.name}"


class RoundLease(Base):
    """One row per round: whether it must be evaluated again, and who is evaluating it (a lease kept
    alive by a heartbeat; a lease whose heartbeat stopped is taken over, its work resumed)."""

    __tablename__ = "rounds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: Scores last recomputed (results.json of the round's run dir rewritten).
    scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: Test rounds: the organiser closed the attack phase and the images were released.
    attack_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Piece(Base):
    """One piece of a round's run (an attack on a batch, a defense on an attack's batch) that the
    evaluator handed to its executor: its lease. ``queued`` → ``running`` (claimed when the executor
    dispatches it to a worker or a Ray task, kept alive by the evaluator's heartbeat) → ``done`` or
    ``failed`` (the piece's own outcome, recorded in the run dir as always); ``running`` → ``queued``
    again when the platform lost it (its worker process or Ray node died, or its heartbeat went stale
    because the server died), which ``lost`` counts and no quota does."""

    __tablename__ = "pieces"

    round: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The engine's piece id (``attack/<entry>/b0003``, ``defense/<entry>/<attack>/b0003``).
    piece: Mapped[str] = mapped_column(String(400), primary_key=True)
    #: The roster label of the entry that runs it.
    entry: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: Times it was dispatched.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Times the platform lost it (worker or node died, server killed): each time it was re-queued.
    lost: Mapped[int] = mapped_column(Integer, default=0)
    #: The last outcome's error, or why it was last re-queued.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=now, onupdate=now)


class Released(Base):
    """A released image of a test round: its opaque id and what it is (its pixels' key)."""

    __tablename__ = "released"

    opaque_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round: Mapped[str] = mapped_column(String(64), index=True)
    image_key: Mapped[str] = mapped_column(String(32))


def sqlite_url(state: Path) -> str:
    return f"sqlite+pysqlite:///{(state / 'advengine.db').resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (readers never wait for the evaluator's writes), a busy
    timeout and foreign keys. A URL SQLAlchemy cannot use (no such dialect or driver) is one
    ConfigError naming it."""
    try:
        return _engine(url)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(
            # Only the scheme: the rest of a URL may hold a password.
            f"--db {url.split('://')[0]}://…: {' '.join(str(exc).split())[:200]}; give "
            "sqlite+pysqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from None


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "REJECTED",
    "RUNNING",
    "TERMINAL",
    "Base",
    "Piece",
    "Released",
    "RoundLease",
    "Submission",
    "Team",
    "make_engine",
    "now",
    "session_factory",
    "sqlite_url",
]
