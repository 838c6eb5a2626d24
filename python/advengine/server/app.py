"""The ASGI app (FastAPI): the JSON API under ``/api`` (OpenAPI at ``/docs``), the pages
(:mod:`advengine.server.pages`), the upload size limit, and the evaluator thread started and
stopped with the app."""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at runtime,
# and ``Depends(caller)`` names a function local to create_app.
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from advengine.errors import ServerError
from advengine.server import pages
from advengine.server.board import Boards, UnknownRoundError
from advengine.server.db import make_engine, session_factory, sqlite_url
from advengine.server.evaluator import Evaluator
from advengine.server.limits import BodyLimit
from advengine.server.migrate import upgrade
from advengine.server.service import (
    RefusedError,
    Server,
    close_attack_phase,
    describe,
    published,
    queue,
    released_archive,
    upload,
)
from advengine.server.settings import ServerSettings
from advengine.server.storage import Blobs
from advengine.server.teams import Caller, identify
from advengine.server.tokens import organiser_token

log = logging.getLogger("advengine.server")


def open_db(state: Path, db_url: str | None) -> sessionmaker[Session]:
    """The state dir and its database, migrated to the newest schema."""
    state.mkdir(parents=True, exist_ok=True)
    engine = make_engine(db_url or sqlite_url(state))
    try:
        upgrade(engine)
    except OperationalError as exc:
        raise ServerError(
            f"--db: cannot open the database ({' '.join(str(exc.orig).split())[:200]})"
        ) from None
    return session_factory(engine)


def open_server(settings: ServerSettings) -> Server:
    """The state dir, the database (migrated to the newest schema) and the organiser token."""
    sessions = open_db(settings.state, settings.db_url)
    token, _ = organiser_token(settings.state)
    return Server(settings, sessions, token, Blobs(settings.state), Boards(settings))


def create_app(settings: ServerSettings, *, evaluate: bool = True) -> FastAPI:
    """The app; ``evaluate=False`` leaves out the evaluator thread (tests that drive it by hand)."""
    server = open_server(settings)
    evaluator = Evaluator(settings, server.sessions)
    # Each new scoring is published (encoded once) as soon as it is written, not at the first read.
    evaluator.on_scored = server.boards.publish

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if evaluate:
            evaluator.start()
        else:
            evaluator.recover()
        yield
        evaluator.close()

    app = FastAPI(
        title="advengine",
        summary="Hosts an adversarial attack and defense competition: uploads, incremental evaluation, "
        "live leaderboards.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.state.evaluator = evaluator

    @app.exception_handler(RefusedError)
    async def _refused(_request: Request, exc: RefusedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    def caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        return identify(server.sessions, token, server.organiser_token)

    @app.get(
        "/api/leaderboard",
        response_class=Response,
        responses={
            200: {"content": {"application/json": {}}, "description": "The round's leaderboard."},
            304: {"description": "Not modified since the ETag sent in If-None-Match."},
        },
    )
    async def get_leaderboard(
        round: Annotated[str | None, Query()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """The round's scores, in results.json's shape: attacks, targeted_attacks, defenses (with
        ``round``, ``scored`` and ``version``). Sends an ETag; with ``If-None-Match`` set to it, a
        poller gets 304 until the scores change."""
        # In the event loop, no thread hop: a read is a stat and a send of bytes built once per
        # scoring (advengine/server/board.py); only a version nobody built yet is built, in a thread.
        try:
            board = server.boards.current(round)
        except UnknownRoundError as exc:
            raise RefusedError(404, str(exc)) from None
        if board is None:
            board = await run_in_threadpool(published, server, round)
        headers = {"ETag": board.etag, "Cache-Control": "no-cache"}
        if if_none_match is not None and board.etag in (t.strip() for t in if_none_match.split(",")):
            return Response(status_code=304, headers=headers)
        return Response(board.body, media_type="application/json", headers=headers)

    @app.post("/api/submissions", status_code=202)
    async def post_submission(
        who: Annotated[Caller, Depends(caller)],
        file: Annotated[UploadFile, File(description="The submission archive (.zip, .tar, .tar.gz).")],
        track: Annotated[str, Form(description="attack, targeted-attack or defense")],
        round: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        """Upload a code submission; a rejected one gets its reason at once (422)."""
        sub = await run_in_threadpool(upload, server, who, track, round, file.filename, file.file)
        if sub.state == "rejected":  # its reason is the answer: no description to build
            raise RefusedError(422, f"rejected: {sub.reason}")
        return await run_in_threadpool(describe, server, who, sub.id)

    @app.get("/api/submissions/{sub_id}")
    def get_submission(who: Annotated[Caller, Depends(caller)], sub_id: int) -> dict[str, Any]:
        """State, pieces done out of the total, and (own team, organiser) the logs' tail."""
        return describe(server, who, sub_id)

    @app.post("/api/rounds/{round_name}/close")
    def close_round(who: Annotated[Caller, Depends(caller)], round_name: str) -> dict[str, Any]:
        """Test rounds: the organiser closes the attack phase; every attack's images are released."""
        return close_attack_phase(server, who, round_name)

    @app.get("/api/rounds/{round_name}/released")
    def get_released(who: Annotated[Caller, Depends(caller)], round_name: str) -> FileResponse:
        """Test rounds: the released images, ``<opaque id>.png`` in a zip (teams only)."""
        path = released_archive(server, who, round_name)
        return FileResponse(path, media_type="application/zip", filename=f"{round_name}-released.zip")

    @app.get("/api/queue")
    def get_queue() -> dict[str, Any]:
        """Submissions not yet finished, and each round's evaluation state."""
        return queue(server)

    pages.add_pages(app, server)
    # Outermost: the body is counted before any other layer reads it.
    app.add_middleware(BodyLimit, limit=settings.max_upload + 64 * 1024)
    return app


__all__ = ["create_app", "open_db", "open_server"]
