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
    assert {"teams", "submissions", "rounds", "released", "pieces", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
    columns = {c["name"] for c in inspect(engine).get_columns("submissions")}
    assert {"state", "reason", "pieces_done", "pieces_total", "charged", "replaced", "digest"} <= columns
    assert "attack_closed" in {c["name"] for c in inspect(engine).get_columns("rounds")}
    columns = {c["name"] for c in inspect(engine).get_columns("pieces")}
    assert {"round", "piece", "entry", "state", "owner", "heartbeat_at", "attempts", "lost"} <= columns


def test_a_database_of_the_first_revision_is_upgraded(tmp_path: Path, db_url: str | None) -> None:
    """An older server's database keeps its rows when a newer server starts on it."""
    from alembic import command
    from alembic.config import Config

    from advengine.server.migrate import MIGRATIONS

    engine = db.make_engine(db_url or sqlite_url(tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO rounds (name, dirty) VALUES ('main', true)"))
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, dirty, attack_closed FROM rounds")).one()
    assert tuple(row) == ("main", True, False)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = db.make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
