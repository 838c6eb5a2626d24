"""The upload size limit cuts the body as it streams in: a declared size over the limit is refused
before a byte is read, and a body that runs past it is answered 413 as soon as it does."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request

from advengine.server.limits import BodyLimit


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/up")
    async def up(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


def _call(limit: int, chunks: int, chunk: int, declared: int | None) -> tuple[int, int]:
    """(status, how many body messages the app pulled) for a body of ``chunks`` x ``chunk`` bytes."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        more = pulled < chunks
        return {"type": "http.request", "body": b"x" * chunk, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    scope = {"type": "http", "method": "POST", "path": "/up", "headers": headers, "query_string": b""}
    scope |= {
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
    }
    asyncio.run(BodyLimit(_app(), limit)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], pulled


def test_a_body_under_the_limit_passes() -> None:
    assert _call(1000, 5, 100, None) == (200, 5)


def test_a_long_body_is_cut_at_the_limit_not_read_to_its_end() -> None:
    status, pulled = _call(1000, 1000, 100, None)  # 100 kB offered, 1 kB allowed
    assert status == 413
    assert pulled == 11  # the first chunk past the limit, never the other 989


def test_a_declared_size_over_the_limit_is_refused_before_reading() -> None:
    assert _call(1000, 1000, 100, 100_000) == (413, 0)
