"""The upload size limit, enforced on the HTTP body as it streams in: a request announcing more
(Content-Length) is refused before its body is read, and one that sends more than it announced (or
uses chunked encoding) is cut with 413 as soon as the limit is passed. Starlette's multipart parser
would otherwise spool any size to disk before the endpoint sees a byte."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Over(HTTPException):
    """Raised from ``receive`` past the limit; an HTTPException, so the framework's own exception
    handling (and FastAPI's body parsing, which re-raises it) answers 413 instead of a 500."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload is over the size limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: at most ``limit`` body bytes per request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _Over(self.limit)
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _Over:
            if not started:
                await _too_large(send, self.limit)


async def _too_large(send: Send, limit: int) -> None:
    body: dict[str, Any] = {"detail": f"the upload is over the size limit of {limit} bytes"}
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


__all__ = ["BodyLimit"]
