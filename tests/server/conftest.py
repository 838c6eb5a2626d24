"""Fixtures of the server tests: a throwaway PostgreSQL cluster (Debian's, started once per session,
as the ``postgres`` OS user because root may not run it), the database URL of each DB test (SQLite
and PostgreSQL) and a tiny competition. What the benchmark shares with them (archives, the cluster,
a served process) is in :mod:`tests.server.harness`."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.server.harness import PgCluster, tiny_toml

from advengine.competition.config import CompetitionConfig, parse_config
from advengine.server import ServerSettings


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster for the whole session (fsync off: a test database need not survive a
    power cut); a missing PostgreSQL fails the tests, never skips them."""
    cluster = PgCluster("-c fsync=off")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the state dir, the default) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.database()


def tiny_config(**extra: object) -> CompetitionConfig:
    """The tiny competition (harness.tiny_toml), ``extra`` keys replacing the file's."""
    return parse_config({**tomllib.loads(tiny_toml()), **extra}, source="tiny.toml")


@pytest.fixture
def settings(tmp_path: Path, db_url: str | None) -> ServerSettings:
    return ServerSettings(config=tiny_config(), state=tmp_path / "state", db_url=db_url, sandbox="bwrap")


#: Succeeds on the validator's dry run (2 noise images, ε 16) and crashes on every batch of
#: tiny_config (ε 4 and 8): a submission that passes upload and fails in evaluation.
FRAGILE = """import glob, os, shutil, sys
inp, out, eps = sys.argv[1], sys.argv[2], int(sys.argv[3])
if eps != 16:
    sys.exit("fragile: only knows eps 16")
for p in glob.glob(os.path.join(inp, "*.png")):
    shutil.copy(p, os.path.join(out, os.path.basename(p)))
"""


@pytest.fixture(autouse=True)
def _dispose_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every database engine a test makes is disposed after it (pooled PostgreSQL connections would
    otherwise be closed by the garbage collector, which pytest reports as an error)."""
    from advengine.server import app, db

    made: list[Engine] = []
    real = db.make_engine

    def tracked(url: str) -> Engine:
        engine = real(url)
        made.append(engine)
        return engine

    monkeypatch.setattr(db, "make_engine", tracked)
    monkeypatch.setattr(app, "make_engine", tracked)
    yield
    for engine in made:
        engine.dispose()


@pytest.fixture(autouse=True)
def _plugins_importable_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned workers start from this process's sys.path (see tests/competition/conftest.py).
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
