"""The shipped Alembic migrations build the schema on both databases, and running them again is a
no-op (every start runs them)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from advengine.server import db
from advengine.server.db import sqlite_url
from advengine.server.migrate import upgrade


def test_migrations_build_the_schema_and_are_idempotent(tmp_path: Path, db_url: str | None) -> None:
    engine = db.make_engine(db_url or sqlite_url(tmp_path))
    upgrade(engine)
    upgrade(engine)  # a restart: nothing to do
    tables = set(inspect(engine).get_table_names())
    assert {"teams", "submissions", "rounds", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    columns = {c["name"] for c in inspect(engine).get_columns("submissions")}
    assert {"state", "reason", "pieces_done", "pieces_total", "charged", "replaced", "digest"} <= columns


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = db.make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
