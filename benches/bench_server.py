"""``advengine serve`` under load (issue 24): N concurrent clients on 127.0.0.1, bounded in count and
time, while an evaluation runs. Per database (SQLite, PostgreSQL) and per client pace: leaderboard
reads/s and uploads/s, p50 and p99 latency of each, the server process's peak RSS (evaluation runs in
worker processes, which are reported apart), and where the CPU went (server, workers, the clients).

The server is a real ``python -m advengine serve`` subprocess on a small competition (``--limit``
images, the noop and FGSM baselines, one classifier defense) that starts evaluating its baselines as
it starts, and a slow uploaded attack keeps the evaluator busy for the whole measurement. The
uploads are archives without metadata.json, which the server stores (content-addressed), records and
rejects at the validator's first check: the upload path without the sandboxed dry run, whose cost is
the submission's own (benches/bench_submissions.py measures it). The slow attack sleeps, or with
``--busy`` computes on one core, so that the evaluation competes with the server for the cores.
PostgreSQL is a throwaway cluster of Debian's binaries (tests/server/harness.py, shared with the
tests).

**Clients.** One asyncio process runs every client, each on its own keep-alive connection, and the
reads are sent and parsed by a few lines over asyncio streams (status line, Content-Length, body):
the lightest client Python has, since the clients share the server's cores on one machine. Uploads
(multipart) go through one ``httpx.AsyncClient``. Each client sends a request every ``--pace``
seconds (its first at a random offset; a live leaderboard page polls every 2 s), every
``--upload-every``-th of them an upload; ``--pace 0`` is a closed loop with no pause, which measures
throughput: its latency is then the queue of 100 clients (Little's law, ``clients / throughput``),
not one read's cost. To say how much of the tail is the client, the report gives the client
process's CPU share and its event loop's lag (how late a 5 ms timer fires: a response that arrives
is read at most that late).

Needs a quiet machine for figures; on a shared one it measures the machine. Run from the repo root:

    python benches/bench_server.py --db both --clients 100 --seconds 30 --json server.json

A tiny setting that only checks it runs: ``--db sqlite --clients 4 --seconds 3 --limit 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.server.harness
from tests.server.harness import (
    PgCluster,
    Served,
    add_team,
    script_archive,
    slow_script,
    submit,
    tar_gz,
    tiny_toml,
)

#: A second baseline attack that runs a model, so that the evaluation is real work.
FGSM = """[[attacks]]
name = "fgsm"
label = "fgsm-lite0"
models = ["efficientnet-lite0"]
baseline = true
"""


class Reader:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads their answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0, 2)


async def _client(
    k: int,
    url: str,
    token: str,
    pace: float,
    until: float,
    every: int,
    uploads: httpx.AsyncClient,
    out: dict[str, list[float]],
) -> None:
    reader = Reader("127.0.0.1", int(url.rsplit(":", 1)[1]))
    broken = tar_gz({"README": f"client {k}"})  # no metadata.json: rejected at the first check
    n, due = 0, time.monotonic() + random.uniform(0, pace)
    try:
        while True:
            if pace:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due = max(due + pace, time.monotonic())  # a late client does not burst to catch up
            if time.monotonic() >= until:
                return
            n += 1
            t0 = time.perf_counter()
            if every and n % every == 0:
                r = await uploads.post(
                    "/api/submissions",
                    headers={"Authorization": f"Bearer {token}"},
                    data={"track": "attack"},
                    files={"file": (f"c{k}n{n}.tar.gz", broken + str(n).encode())},
                )
                assert r.status_code == 422, r.text  # stored, recorded, rejected
                out["upload"].append(time.perf_counter() - t0)
            else:
                status = await reader.get("/api/leaderboard")
                assert status == 200, status
                out["read"].append(time.perf_counter() - t0)
    finally:
        reader.close()


async def _lag(until: float, out: list[float]) -> None:
    """How late a 5 ms timer fires in the clients' event loop."""
    while time.monotonic() < until:
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append(time.perf_counter() - t0 - 0.005)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def measure(
    db: str, served: Served, token: str, clients: int, seconds: float, pace: float, every: int
) -> dict[str, Any]:
    """One measurement window against a running server."""
    server = psutil.Process(served.proc.pid if served.proc else 0)
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
    lag: list[float] = []
    me = psutil.Process()
    load = os.getloadavg()[0]
    cpu0 = {"server": _cpu(server), "clients": _cpu(me)}
    kids0 = {c.pid: _cpu(c) for c in server.children(recursive=True)}
    t0 = time.perf_counter()
    until = time.monotonic() + seconds

    async def everyone() -> None:
        async with httpx.AsyncClient(base_url=served.url, timeout=120) as uploads:
            await asyncio.gather(
                _lag(until, lag),
                *(_client(k, served.url, token, pace, until, every, uploads, times) for k in range(clients)),
            )

    asyncio.run(everyone())
    wall = time.perf_counter() - t0
    workers_cpu = 0.0
    for c in server.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a worker that ended meanwhile
            workers_cpu += _cpu(c) - kids0.get(c.pid, 0.0)
    stop.set()
    sampler.join()
    queue = served.get("/api/queue")
    return {
        "db": db,
        "clients": clients,
        "pace_s": pace,
        "seconds": round(wall, 2),
        "load_at_start": load,
        "evaluating_at_end": any(r["evaluating"] for r in queue["rounds"]),
        "reads_per_s": round(len(times["read"]) / wall, 1),
        "read_p50_ms": _pct(times["read"], 0.5),
        "read_p99_ms": _pct(times["read"], 0.99),
        "uploads_per_s": round(len(times["upload"]) / wall, 1),
        "upload_p50_ms": _pct(times["upload"], 0.5),
        "upload_p99_ms": _pct(times["upload"], 0.99),
        "server_rss_mb": round(peak["server"] / 2**20, 1),
        "workers_rss_mb": round(peak["workers"] / 2**20, 1),
        # Where the two cores went during the window, in cores (1.0 = one core all the time).
        "server_cores": round((_cpu(server) - cpu0["server"]) / wall, 2),
        "workers_cores": round(workers_cpu / wall, 2),
        "clients_cores": round((_cpu(me) - cpu0["clients"]) / wall, 2),
        "client_loop_lag_p99_ms": _pct(lag, 0.99),
    }


def run(
    db: str,
    clients: int,
    seconds: float,
    paces: list[float],
    every: int,
    limit: int,
    workers: int,
    busy: bool = False,
) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    pg = PgCluster("-c max_connections=200") if db == "postgresql" else None
    try:
        db_args = ["--db", pg.database()] if pg else []
        state = tmp / "state"
        (tmp / "c.toml").write_text(
            tiny_toml(FGSM, limit=limit, batch_size=max(1, limit // 2), time_limit=600.0)
        )
        token = add_team(state, "bench", *db_args)
        args = ["--workers", str(workers), "--quota", "1000000", *db_args]
        served = Served(tmp / "c.toml", state, *args)
        served.start()
        try:
            # Two batches of a slow attack keep the evaluator busy through every window.
            sleep = seconds * len(paces) / 2 + 30
            slow = script_archive(slow_script(sleep, busy=busy))
            r = submit(served.url, token, "slow.tar.gz", slow)
            assert r.status_code == 202, r.text
            return [
                {**measure(db, served, token, clients, seconds, pace, every), "busy": busy} for pace in paces
            ]
        finally:
            served.stop()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--clients", type=int, default=100, help="concurrent clients (at most 500)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long each window runs (at most 600)")
    p.add_argument(
        "--pace",
        default="1,0",
        help="seconds between a client's requests, one window each, comma-separated (0: no pause)",
    )
    p.add_argument("--upload-every", type=int, default=10, help="every Nth request is an upload (0: none)")
    p.add_argument("--limit", type=int, default=20, help="images of the competition being evaluated")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--busy",
        action="store_true",
        help="the slow submission computes on one core instead of sleeping (it competes for the cores)",
    )
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    paces = [float(x) for x in args.pace.split(",")]
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 600 or any(x < 0 for x in paces):
        raise SystemExit("--clients must be 1..500, --seconds 0..600 and --pace ≥ 0")
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = []
    for db in dbs:
        for row in run(
            db, args.clients, args.seconds, paces, args.upload_every, args.limit, args.workers, args.busy
        ):
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
