"""Fixtures of the server tests: a throwaway PostgreSQL cluster (Debian's, started once per session,
as the ``postgres`` OS user because root may not run it), the database URL of each DB test (SQLite
and PostgreSQL), a tiny competition, and submission archives built from the sample submissions."""

from __future__ import annotations

import io
import itertools
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine

from advengine.competition.config import CompetitionConfig, parse_config
from advengine.server import ServerSettings

SAMPLES = Path(__file__).resolve().parents[1] / "submissions" / "samples"
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[tuple[Path, int]]:
    """(socket dir, port) of a PostgreSQL cluster in a temp dir, stopped at the end. A missing
    PostgreSQL fails the tests (``make postgres-deps`` installs it), never skips them."""
    assert PG_BINS, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin); run `make postgres-deps`"
    bins = PG_BINS[-1]
    root = Path(tempfile.mkdtemp(prefix="advengine-pg-"))
    root.chmod(0o755)
    data = root / "data"
    shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    _as_postgres(str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    opts = f"-k {root} -p {port} -c listen_addresses='' -c fsync=off"
    _as_postgres(str(bins / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        yield root, port
    finally:
        _as_postgres(str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


_DB_NUMBERS = itertools.count()


def pg_database(cluster: tuple[Path, int]) -> str:
    """A new empty database in the cluster; its SQLAlchemy URL."""
    root, port = cluster
    name = f"t{os.getpid()}_{next(_DB_NUMBERS)}"
    with psycopg.connect(host=str(root), port=port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@/{name}?host={root}&port={port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None (SQLite in the state dir, the default) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return pg_database(request.getfixturevalue("pg_cluster"))


BASE_LITE0 = {"name": "classifier", "label": "base-lite0", "models": ["efficientnet-lite0"], "baseline": True}


def tiny_config(**extra: object) -> CompetitionConfig:
    """Four sample images in two batches (ε 4 and 8), the noop attack and one classifier defense as
    the organiser's baselines."""
    return parse_config(
        {
            "batch_size": 2,
            "time_limit": 60.0,
            "dataset": {"limit": 4},
            "attacks": [{"name": "noop", "baseline": True}],
            "defenses": [
                {
                    "name": "classifier",
                    "label": "base-lite0",
                    "models": ["efficientnet-lite0"],
                    "baseline": True,
                }
            ],
            **extra,
        },
        source="tiny.toml",
    )


@pytest.fixture
def settings(tmp_path: Path, db_url: str | None) -> ServerSettings:
    return ServerSettings(config=tiny_config(), state=tmp_path / "state", db_url=db_url, sandbox="bwrap")


Archive = Callable[..., bytes]


def archive_bytes(sample: str, **extra: str) -> bytes:
    """``samples/<sample>`` as .tar.gz bytes (modes kept), with ``extra`` files (name → text) added."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted((SAMPLES / sample).iterdir()):
            tar.add(f, arcname=f.name)
        for name, text in extra.items():
            info = tarfile.TarInfo(name)
            data = text.encode()
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def script_archive(script: str, kind: str = "attack") -> bytes:
    """An archive whose entry point is ``main.py`` (Python run by the sandbox's python3)."""
    import json

    buf = io.BytesIO()
    meta = {"type": kind, "container": "c", "container_gpu": "g", "entry_point": "main.py"}
    files = {"metadata.json": json.dumps(meta), "main.py": "#!/usr/bin/env python3\n" + script}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            data = text.encode()
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


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
