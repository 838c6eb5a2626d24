"""``advengine serve`` under load (issue 24): N concurrent clients on 127.0.0.1, bounded in count and
time, while an evaluation runs. Per database (SQLite, PostgreSQL): leaderboard reads/s and uploads/s,
p50 and p99 latency of each, and the server process's peak RSS (evaluation runs in worker processes,
which are reported apart).

The server is a real ``python -m advengine serve`` subprocess on a small competition (``--limit``
images, the noop and FGSM baselines, one classifier defense) that starts evaluating its baselines as
it starts, and a slow uploaded attack keeps the evaluator busy for the whole measurement. Each client
loops for ``--seconds``: a leaderboard read, and every ``--upload-every``-th request an upload. The
uploads are archives without metadata.json, which the server stores (content-addressed), records and
rejects at the validator's first check: the upload path without the sandboxed dry run, whose cost is
the submission's own (benches/bench_submissions.py measures it). PostgreSQL is a throwaway cluster of
Debian's binaries started as the ``postgres`` user (as in tests/server/conftest.py).

Needs a quiet machine for figures; on a shared one it measures the machine. Run from the repo root:

    python benches/bench_server.py --db both --clients 100 --seconds 30 --json server.json

A tiny setting that only checks it runs: ``--db sqlite --clients 4 --seconds 3 --limit 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

SLOW = """#!/usr/bin/env python3
import glob, os, shutil, sys, time
inp, out = sys.argv[1], sys.argv[2]
time.sleep(20)
for p in glob.glob(os.path.join(inp, "*.png")):
    shutil.copy(p, os.path.join(out, os.path.basename(p)))
"""


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)


class Postgres:
    """A throwaway cluster in a temp dir on a unix socket."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise SystemExit("PostgreSQL is not installed: make postgres-deps")
        self.bin = bins[-1]
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.port = _port()
        data = str(self.root / "data")
        _as_postgres(str(self.bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-k {self.root} -p {self.port} -c listen_addresses='' -c max_connections=200"
        _as_postgres(
            str(self.bin / "pg_ctl"), "-D", data, "-o", opts, "-l", str(self.root / "log"), "-w", "start"
        )
        _as_postgres(str(self.bin / "createdb"), "-h", str(self.root), "-p", str(self.port), "bench")
        self.url = f"postgresql+psycopg://postgres@/bench?host={self.root}&port={self.port}"

    def stop(self) -> None:
        _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _config(limit: int) -> str:
    return f"""batch_size = {max(1, limit // 2)}
time_limit = 120.0
[dataset]
limit = {limit}
[[attacks]]
name = "noop"
baseline = true
[[attacks]]
name = "fgsm"
label = "fgsm-lite0"
models = ["efficientnet-lite0"]
baseline = true
[[defenses]]
name = "classifier"
label = "base-lite0"
models = ["efficientnet-lite0"]
baseline = true
"""


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "advengine", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def _client(
    url: str, token: str, k: int, until: float, every: int, out: dict[str, list[float]]
) -> None:
    broken = _tar({"README": f"client {k}"})
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        n = 0
        while time.monotonic() < until:
            n += 1
            t0 = time.perf_counter()
            if every and n % every == 0:
                r = await client.post(
                    "/api/submissions",
                    headers=headers,
                    data={"track": "attack"},
                    files={"file": (f"c{k}n{n}.tar.gz", broken + str(n).encode())},
                )
                assert r.status_code == 422, r.text  # stored, recorded, rejected
                out["upload"].append(time.perf_counter() - t0)
            else:
                r = await client.get("/api/leaderboard")
                assert r.status_code == 200, r.text
                out["read"].append(time.perf_counter() - t0)


def run(db: str, clients: int, seconds: float, every: int, limit: int, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    pg = Postgres() if db == "postgresql" else None
    state, port = tmp / "state", _port()
    (tmp / "c.toml").write_text(_config(limit))
    db_args = ["--db", pg.url] if pg else []
    token = json.loads(_cli("team", "add", "bench", "--state", str(state), *db_args, "--json"))["token"]
    argv = [
        sys.executable,
        "-m",
        "advengine",
        "serve",
        "--config",
        str(tmp / "c.toml"),
        "--state",
        str(state),
    ]
    argv += ["--port", str(port), "--workers", str(workers), "--quota", "1000000", *db_args]
    log = open(tmp / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/api/queue", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        slow = _tar(
            {
                "metadata.json": json.dumps(
                    {"type": "attack", "container": "c", "container_gpu": "g", "entry_point": "main.py"}
                ),
                "main.py": SLOW,
            }
        )
        r = httpx.post(
            f"{url}/api/submissions",
            headers={"Authorization": f"Bearer {token}"},
            data={"track": "attack"},
            files={"file": ("slow.tar.gz", slow)},
            timeout=300,
        )
        assert r.status_code == 202, r.text
        server = psutil.Process(proc.pid)
        peak = {"server": 0, "workers": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                try:
                    peak["server"] = max(peak["server"], server.memory_info().rss)
                    kids = server.children(recursive=True)
                    peak["workers"] = max(peak["workers"], sum(c.memory_info().rss for c in kids))
                except psutil.Error:
                    pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        times: dict[str, list[float]] = {"read": [], "upload": []}
        until = time.monotonic() + seconds
        t0 = time.perf_counter()

        async def everyone() -> None:
            await asyncio.gather(*(_client(url, token, k, until, every, times) for k in range(clients)))

        asyncio.run(everyone())
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        queue = httpx.get(f"{url}/api/queue", timeout=10).json()
        evaluating = any(r["evaluating"] for r in queue["rounds"])
        return {
            "db": db,
            "clients": clients,
            "seconds": round(wall, 2),
            "evaluating_at_end": evaluating,
            "reads_per_s": round(len(times["read"]) / wall, 1),
            "read_p50_ms": _pct(times["read"], 0.5),
            "read_p99_ms": _pct(times["read"], 0.99),
            "uploads_per_s": round(len(times["upload"]) / wall, 1),
            "upload_p50_ms": _pct(times["upload"], 0.5),
            "upload_p99_ms": _pct(times["upload"], 0.99),
            "server_rss_mb": round(peak["server"] / 2**20, 1),
            "workers_rss_mb": round(peak["workers"] / 2**20, 1),
            "load_avg": os.getloadavg()[0],
            "reads_median_ms": statistics.median(times["read"]) * 1000 if times["read"] else None,
        }
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--clients", type=int, default=100, help="concurrent clients (at most 500)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long the clients run (at most 600)")
    p.add_argument("--upload-every", type=int, default=10, help="every Nth request is an upload (0: none)")
    p.add_argument("--limit", type=int, default=20, help="images of the competition being evaluated")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 600:
        raise SystemExit("--clients must be 1..500 and --seconds 0..600")
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = [run(db, args.clients, args.seconds, args.upload_every, args.limit, args.workers) for db in dbs]
    for row in rows:
        print(json.dumps(row))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
